package gowsgi

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/balance"
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
	// IOTimeout is the default of SendTimeout and BodyTimeout (60s).
	IOTimeout time.Duration
	// SendTimeout bounds the time the Python thread sending a response
	// waits for a client that does not take it (nginx's send_timeout;
	// default IOTimeout): in all, for each MiB the client takes, so one
	// that reads a byte now and then cannot renew it. Past it the
	// connection is cut and the thread is free.
	SendTimeout time.Duration
	// BodyTimeout bounds the time spent waiting for a request body that
	// is not read ahead (larger than Options.BodyBufferSize, or a chunked
	// one, which a goroutine reads): in all, for each MiB the client sends
	// (nginx's client_body_timeout; default IOTimeout). Past it wsgi.input
	// raises OSError, or a chunked body gets 400.
	BodyTimeout time.Duration
	// MaxConnections bounds the connections served at once (gunicorn's
	// worker_connections; default 1000, negative: no limit): one more
	// takes the place of a connection that has been sending its request
	// head (or nothing) for over a second, if there is one; else it is
	// answered 503 with Retry-After and closed.
	MaxConnections int
	// Limits on the request head, gunicorn's --limit-request-*; zero
	// values take the defaults (8190, 100, 8190).
	Limits Limits
	// ProxyProtocol lets a connection start with a PROXY protocol header
	// (HAProxy's; sent by HAProxy, stunnel, AWS and GCP load balancers)
	// naming the client, as gunicorn's --proxy-protocol: "off" or ""
	// (default), "v1" (text), "v2" (binary) or "auto" (either). The
	// header is optional; REMOTE_ADDR and REMOTE_PORT are then the
	// client's, and PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT are set
	// (docs/deployment.md).
	ProxyProtocol string
	// ProxyAllowFrom are the peers (addresses, CIDR networks, "*" for any)
	// allowed to send a PROXY header (default 127.0.0.1 and ::1; Unix
	// sockets always); a header from another is answered 403.
	ProxyAllowFrom []string

	once    sync.Once
	engine  *engine.Server
	initErr error
	// seat: on a master's balance board, the worker's (balance.Claim
	// when nil).
	seat *balance.Seat
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
		cfg := engine.Config{
			KeepAlive: s.KeepAlive, HeaderTimeout: s.HeaderTimeout, IOTimeout: s.IOTimeout,
			SendTimeout: s.SendTimeout, BodyTimeout: s.BodyTimeout, MaxConnections: s.MaxConnections,
			Limits: h1.Limits{RequestLine: s.Limits.RequestLine, Fields: s.Limits.Fields, FieldSize: s.Limits.FieldSize},
		}
		cfg.ProxyProtocol, cfg.ProxyAllow, s.initErr = proxySettings(s.ProxyProtocol, s.ProxyAllowFrom)
		if cfg.Seat = s.seat; cfg.Seat == nil {
			// In a gowsgi worker: level with the others.
			cfg.Seat = balance.Claim()
		}
		s.engine = engine.New(s.App.core, cfg)
	})
	return s.engine
}

// Serve accepts connections on ln until Shutdown, serving them from the
// App's Python threads. It fails at once on a ProxyProtocol or
// ProxyAllowFrom it cannot read.
func (s *Server) Serve(ln net.Listener) error {
	e := s.init()
	if s.initErr != nil {
		return s.initErr
	}
	return e.Serve(ln)
}

// Shutdown stops accepting, lets idle connections reach their keep-alive
// timeout (answering a request on them with Connection: close), and waits for the
// requests in progress to finish; their connections close after the
// response. When ctx ends first, the remaining connections are closed and
// ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error { return s.init().Shutdown(ctx) }
