package gowsgi

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// gateway is the listening side shared by the servers that take requests
// from a front server (FastCGIServer, UWSGIServer): the accept loop, the
// connections in use, and a graceful Shutdown that lets the requests in
// progress finish.
type gateway struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*gatewayConn]struct{}
	closing   atomic.Bool
	accepting sync.WaitGroup
	done      chan struct{}
	log       func(msg string, args ...any)
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

func (g *gateway) init() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		g.listeners = make(map[net.Listener]struct{})
		g.conns = make(map[*gatewayConn]struct{})
		g.done = make(chan struct{})
	}
}

// serve accepts connections on ln until shutdown, each served by handle on
// its own goroutine.
func (g *gateway) serve(ln net.Listener, handle func(*gatewayConn)) error {
	g.init()
	g.mu.Lock()
	if g.closing.Load() {
		g.mu.Unlock()
		return ErrServerClosed
	}
	g.listeners[ln] = struct{}{}
	g.accepting.Add(1)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.listeners, ln)
		g.mu.Unlock()
		g.accepting.Done()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if g.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				g.log("accept failed; retrying", "error", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		gc := &gatewayConn{nc: nc, fresh: true}
		g.mu.Lock()
		g.conns[gc] = struct{}{}
		g.mu.Unlock()
		go func() {
			defer g.forget(gc)
			defer nc.Close()
			handle(gc)
		}()
	}
}

func (g *gateway) forget(gc *gatewayConn) {
	g.mu.Lock()
	delete(g.conns, gc)
	empty := len(g.conns) == 0
	g.mu.Unlock()
	if empty && g.closing.Load() {
		select {
		case g.done <- struct{}{}:
		default:
		}
	}
}

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

// shutdown stops accepting, closes idle connections and waits for the
// requests in progress, as Server.Shutdown does.
func (g *gateway) shutdown(ctx context.Context) error {
	g.init()
	g.mu.Lock()
	g.closing.Store(true)
	for ln := range g.listeners {
		ln.Close()
	}
	g.mu.Unlock()
	g.accepting.Wait()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		g.mu.Lock()
		for gc := range g.conns {
			gc.closeIfIdle()
		}
		n := len(g.conns)
		g.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			g.mu.Lock()
			for gc := range g.conns {
				gc.nc.Close()
			}
			g.mu.Unlock()
			return ctx.Err()
		case <-g.done:
		case <-tick.C:
		}
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
