package gowsgi

import (
	"context"
	"errors"
	"net"
	"sync"
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

	once sync.Once
	set  connSet[*conn]
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("gowsgi: server closed")

func (s *Server) init() {
	s.once.Do(func() {
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
	})
}

// Serve accepts connections on ln until Shutdown, serving each on its own
// goroutine.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if !s.set.listen(ln) {
		return ErrServerClosed
	}
	defer s.set.unlisten(ln)
	return s.App.pool.loop.serve(s, ln)
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish; their connections close after the
// response. When ctx ends first, the remaining connections are closed and
// ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.set.init()
	s.set.closing.Store(true)
	s.App.pool.loop.stopServing(s)
	return s.set.shutdown(ctx)
}

// activeConns counts the connections being served.
func (s *Server) activeConns() int { return s.set.count() }
