// Package gateway serves an App to a front server: FastCGI (fastcgi.go),
// uwsgi (uwsgi.go) and CGI (cgi.go), each building the environ from the
// front server's CGI variables (core.EnvironFromCGI).
package gateway

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/connset"
	"github.com/gowsgi/gowsgi/internal/core"
)

// gateway is the listening side of the servers that take requests from a
// front server (FastCGI, UWSGI): a connset.Set of gatewayConns.
type gateway struct {
	set connset.Set[*gatewayConn]
}

// gatewayConn is one connection from the front server.
type gatewayConn struct {
	nc     net.Conn
	mu     sync.Mutex
	active int  // requests begun and not finished (a FastCGI request may begin as the last one ends)
	fresh  bool // no request yet
	graced bool
	closed bool
	idle   time.Duration // the longest wait for a request (0: none)
}

// idleFor bounds the wait of a connection with no request in progress:
// its reads fail after d, which ends it. It holds from now, and from
// each time the last request in progress finishes.
func (gc *gatewayConn) idleFor(d time.Duration) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.idle = d
	gc.nc.SetReadDeadline(time.Now().Add(d))
}

// serve accepts connections on ln until shutdown, each served by handle on
// its own goroutine.
func (g *gateway) serve(ln net.Listener, log *slog.Logger, handle func(*gatewayConn)) error {
	return g.set.Serve(ln, log, func(nc net.Conn) *gatewayConn { return &gatewayConn{nc: nc, fresh: true} },
		func(gc *gatewayConn) {
			defer gc.nc.Close()
			handle(gc)
		})
}

// CloseNow closes the connection: Shutdown's deadline passed.
func (gc *gatewayConn) CloseNow() { gc.nc.Close() }

// start marks a request begun on the connection. It reports false when
// Shutdown closed the connection already.
func (gc *gatewayConn) start() bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.active++
	gc.fresh = false
	if gc.idle > 0 {
		gc.nc.SetReadDeadline(time.Time{}) // a request's own reads have their timeouts
	}
	return !gc.closed
}

// finish marks the request done. It reports whether the connection may
// carry another: not once the server shuts down.
func (g *gateway) finish(gc *gatewayConn) bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.active--
	if gc.active == 0 && gc.idle > 0 {
		gc.nc.SetReadDeadline(time.Now().Add(gc.idle))
	}
	return !gc.closed && !g.set.Closing()
}

// CloseIfIdle closes a connection waiting for a request, after a grace:
// connset.FreshGrace for a fresh one (its front server connected to send
// a request), KeptGrace for a kept one (the front server may have picked
// it from its cache for the next request already, and would not retry a
// POST that fails on it). A request that comes in the grace is served,
// and the connection closed after it.
func (gc *gatewayConn) CloseIfIdle() {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.active > 0 || gc.closed || gc.graced {
		return
	}
	gc.graced = true
	grace := KeptGrace
	if gc.fresh {
		grace = connset.FreshGrace
	}
	time.AfterFunc(grace, func() {
		gc.mu.Lock()
		defer gc.mu.Unlock()
		if gc.active == 0 && !gc.closed {
			gc.closed = true
			gc.nc.Close()
		}
	})
}

// KeptGrace is how long a draining gateway keeps a kept connection that
// waits for a request: the HTTP engine's default keep-alive.
const KeptGrace = 2 * time.Second

// localAddr is the listening address of a connection, for the variables
// the front server did not send.
func localAddr(nc net.Conn) core.Peer {
	if _, ok := nc.LocalAddr().(*net.UnixAddr); ok {
		return core.Peer{LocalName: "localhost", LocalPort: "80"}
	}
	name, port := core.SplitHostPort(nc.LocalAddr().String())
	return core.Peer{LocalName: name, LocalPort: port}
}

// shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish, or for ctx to end.
func (g *gateway) shutdown(ctx context.Context) error { return g.set.Shutdown(ctx) }

// Buffer sizes of the gateways' connections.
const (
	readBufSize  = 4096
	writeBufSize = 16 << 10
)
