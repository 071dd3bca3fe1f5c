package gowsgi

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// gateway is the listening side of the servers that take requests from a
// front server (FastCGIServer, UWSGIServer): a connSet of gatewayConns.
type gateway struct {
	connSet[*gatewayConn]
}

// gatewayConn is one connection from the front server.
type gatewayConn struct {
	nc     net.Conn
	mu     sync.Mutex
	active int  // requests begun and not finished (a FastCGI request may begin as the last one ends)
	fresh  bool // no request yet
	graced bool
	closed bool
}

// serve accepts connections on ln until shutdown, each served by handle on
// its own goroutine.
func (g *gateway) serve(ln net.Listener, log *slog.Logger, handle func(*gatewayConn)) error {
	return g.connSet.serve(ln, log, func(nc net.Conn) *gatewayConn { return &gatewayConn{nc: nc, fresh: true} },
		func(gc *gatewayConn) {
			defer gc.nc.Close()
			handle(gc)
		})
}

func (gc *gatewayConn) closeNow() { gc.nc.Close() }

// start marks a request begun on the connection. It reports false when
// Shutdown closed the connection already.
func (gc *gatewayConn) start() bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.active++
	gc.fresh = false
	return !gc.closed
}

// finish marks the request done. It reports whether the connection may
// carry another: not once the server shuts down.
func (g *gateway) finish(gc *gatewayConn) bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.active--
	return !gc.closed && !g.closing.Load()
}

// closeIfIdle closes a connection waiting for a request. A fresh one gets
// freshGrace first: its front server connected to send a request.
func (gc *gatewayConn) closeIfIdle() {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	switch {
	case gc.active > 0 || gc.closed:
	case !gc.fresh:
		gc.closed = true
		gc.nc.Close()
	case !gc.graced:
		gc.graced = true
		time.AfterFunc(freshGrace, func() {
			gc.mu.Lock()
			defer gc.mu.Unlock()
			if gc.active == 0 && !gc.closed {
				gc.closed = true
				gc.nc.Close()
			}
		})
	}
}

// localAddr is the listening address of a connection, for the variables
// the front server did not send.
func localAddr(nc net.Conn) cgiLocal {
	if _, ok := nc.LocalAddr().(*net.UnixAddr); ok {
		return cgiLocal{name: "localhost", port: "80"}
	}
	name, port := splitHostPort(nc.LocalAddr().String())
	return cgiLocal{name: name, port: port}
}
