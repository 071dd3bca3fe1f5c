// Package engine is gowsgi's HTTP/1.1 server: connections read and parsed
// on the Python thread that is free (in the App's Poller), each request's
// environ built in place, its response framed on the connection.
package engine

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/allow"
	"github.com/gowsgi/gowsgi/internal/balance"
	"github.com/gowsgi/gowsgi/internal/connset"
	"github.com/gowsgi/gowsgi/internal/core"
	"github.com/gowsgi/gowsgi/internal/h1"
	"github.com/gowsgi/gowsgi/internal/proxyproto"
)

// Config is a Server's settings, defaults filled in by New.
type Config struct {
	KeepAlive     time.Duration // an idle connection's wait for its next request
	HeaderTimeout time.Duration // to receive a whole request head
	IOTimeout     time.Duration // the default of SendTimeout and BodyTimeout
	// The longest a connection's owner waits for its client in all, for
	// each MiB moved (see core.Pace): writing a response, reading a body.
	SendTimeout    time.Duration
	BodyTimeout    time.Duration
	MaxConnections int // beyond it, a new connection gets 503 (negative: no limit)
	Limits         h1.Limits
	// A connection may start with a PROXY protocol header of these
	// versions, from the peers ProxyAllow lets send one.
	ProxyProtocol proxyproto.Mode
	ProxyAllow    allow.List
	// Seat is the worker's seat on its master's balance board: the
	// Server then keeps its connections level with the other workers'
	// (see balancer). nil: it takes every connection it is woken for.
	Seat *balance.Seat
}

// DefaultMaxConnections is gunicorn's worker_connections.
const DefaultMaxConnections = 1000

// Server serves an App over HTTP/1.1 from the App's Poller.
type Server struct {
	app    *core.App
	poller *core.Poller
	cfg    Config
	set    connset.Set[*conn]

	bal *balancer // nil without Config.Seat

	mu        sync.Mutex
	listeners map[*listener]struct{}
}

// New makes a Server of app.
func New(app *core.App, cfg Config) *Server {
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 2 * time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 30 * time.Second
	}
	if cfg.IOTimeout <= 0 {
		cfg.IOTimeout = 60 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = cfg.IOTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = cfg.IOTimeout
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.Limits.RequestLine == 0 {
		cfg.Limits.RequestLine = 8190
	}
	if cfg.Limits.Fields == 0 {
		cfg.Limits.Fields = 100
	}
	if cfg.Limits.FieldSize == 0 {
		cfg.Limits.FieldSize = 8190
	}
	s := &Server{app: app, poller: app.Poller(), cfg: cfg, listeners: make(map[*listener]struct{})}
	s.set.Init()
	if cfg.Seat != nil {
		s.bal = s.newBalancer(cfg.Seat)
	}
	return s
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if !s.set.Listen(ln) {
		return connset.ErrServerClosed
	}
	defer s.set.Unlisten(ln)
	return s.serve(ln)
}

// Shutdown stops accepting, lets idle connections reach their keep-alive
// timeout (see conn.CloseIfIdle), and waits for the
// requests in progress to finish (see connset.Set.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error {
	s.set.StartClosing()
	s.stopServing()
	return s.set.Shutdown(ctx)
}

// ActiveConns counts the connections being served.
func (s *Server) ActiveConns() int { return s.set.Count() }
