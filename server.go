package gowsgi

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/h1"
)

// Server serves an App over plain HTTP/1.1 (and 1.0) with gowsgi's own
// engine: requests are parsed strictly and without allocation straight into
// the environ, pipelined requests are answered in order with their
// responses batched, and the application's status line (reason phrase
// included) goes out as given. TLS and HTTP/2 go through net/http with the
// App as handler.
type Server struct {
	App *App

	// KeepAlive is how long an idle connection waits for its next request
	// (gunicorn's --keep-alive; default 2s).
	KeepAlive time.Duration
	// HeaderTimeout bounds the time to receive a whole request head
	// (default 30s): slow clients cannot hold connections open forever.
	HeaderTimeout time.Duration
	// IOTimeout bounds one read of a request body or one write of a
	// response that makes no progress (default 60s).
	IOTimeout time.Duration
	// Limits on the request head, gunicorn's --limit-request-*; zero
	// values take gunicorn's defaults (4094, 100, 8190).
	Limits h1.Limits

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	done      chan struct{}
	accepting sync.WaitGroup // Serve loops running
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("gowsgi: server closed")

func (s *Server) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns != nil {
		return
	}
	if s.KeepAlive <= 0 {
		s.KeepAlive = 2 * time.Second
	}
	if s.HeaderTimeout <= 0 {
		s.HeaderTimeout = 30 * time.Second
	}
	if s.IOTimeout <= 0 {
		s.IOTimeout = 60 * time.Second
	}
	if s.Limits.RequestLine == 0 {
		s.Limits.RequestLine = 4094
	}
	if s.Limits.Fields == 0 {
		s.Limits.Fields = 100
	}
	if s.Limits.FieldSize == 0 {
		s.Limits.FieldSize = 8190
	}
	s.listeners = make(map[net.Listener]struct{})
	s.conns = make(map[*conn]struct{})
	s.done = make(chan struct{})
}

// Serve accepts connections on ln until Shutdown, serving each on its own
// goroutine.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.accepting.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		s.accepting.Done()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of descriptors or similar: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.App.log.Warn("accept failed; retrying", "error", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// A connection accepted as Shutdown begins is served all the same
		// (its client already sent its request, maybe): Shutdown waits for
		// this loop before it counts the connections.
		c := newConn(s, nc)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty && s.closing.Load() {
		select {
		case s.done <- struct{}{}:
		default:
		}
	}
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish; their connections close after the
// response. When ctx ends first, the remaining connections are closed and
// ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.accepting.Wait()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			c.closeIfIdle()
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.nc.Close()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-s.done:
		case <-tick.C:
		}
	}
}

// activeConns counts the connections being served.
func (s *Server) activeConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func isTemporaryAccept(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
