package gowsgi

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/connset"
	"github.com/gowsgi/gowsgi/internal/engine"
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
	// values take the defaults (8190, 100, 8190).
	Limits Limits

	once   sync.Once
	engine *engine.Server
}

// Limits bound a request head, as gunicorn's --limit-request-line,
// --limit-request-fields and --limit-request-field_size do. A zero field
// takes the default; a negative one means no limit.
type Limits struct {
	// RequestLine is the longest request line, in bytes (default 8190,
	// where gunicorn's is 4094: RFC 9112 section 3 recommends accepting
	// request lines of at least 8000 octets).
	RequestLine int
	// Fields is the most header fields a request may have (default 100).
	Fields int
	// FieldSize is the longest header field, name and value, in bytes
	// (default 8190).
	FieldSize int
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = connset.ErrServerClosed

func (s *Server) init() *engine.Server {
	s.once.Do(func() {
		s.engine = engine.New(s.App.core, engine.Config{
			KeepAlive: s.KeepAlive, HeaderTimeout: s.HeaderTimeout, IOTimeout: s.IOTimeout,
			Limits: h1.Limits{RequestLine: s.Limits.RequestLine, Fields: s.Limits.Fields, FieldSize: s.Limits.FieldSize},
		})
	})
	return s.engine
}

// Serve accepts connections on ln until Shutdown, serving them from the
// App's Python threads.
func (s *Server) Serve(ln net.Listener) error { return s.init().Serve(ln) }

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish; their connections close after the
// response. When ctx ends first, the remaining connections are closed and
// ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error { return s.init().Shutdown(ctx) }
