package gowsgi

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/gateway"
)

// FastCGIServer serves an App as a FastCGI responder behind a front server
// (nginx's fastcgi_pass, Apache's mod_proxy_fcgi, lighttpd's mod_fastcgi).
// The front server's CGI variables become the environ, taken as given,
// with only what PEP 3333 requires and the front server left out filled
// in; the request body streams from the stdin records as the application
// reads it, and the response goes out as stdout records as the
// application produces it. One request at a time per connection
// (FCGI_MPXS_CONNS is 0), and connections are kept when the front server
// asks (FCGI_KEEP_CONN).
type FastCGIServer struct {
	App *App
	// IOTimeout bounds one read of a request or one write of a response
	// that makes no progress (default 60s).
	IOTimeout time.Duration
	// IdleTimeout bounds a connection's wait for its next request, and
	// for its first (default 75s: longer than nginx's upstream
	// keepalive_timeout of 60s, so the front server, which knows when it
	// reuses a kept connection, closes it first).
	IdleTimeout time.Duration
	// MaxHeaders is the most request headers (HTTP_* variables, the front
	// server's copy of the client's header lines) a request may carry;
	// more are answered 431, as Server answers more header lines than
	// Limits.Fields. Zero takes the default, 100 (gunicorn's
	// --limit-request-fields); negative means no limit but the 1 MiB of
	// variables a request may send.
	MaxHeaders int

	once sync.Once
	gw   *gateway.FastCGI
}

func (s *FastCGIServer) init() *gateway.FastCGI {
	s.once.Do(func() {
		s.gw = &gateway.FastCGI{App: s.App.core, IOTimeout: s.IOTimeout, MaxHeaders: s.MaxHeaders, IdleTimeout: s.IdleTimeout}
	})
	return s.gw
}

// Serve accepts FastCGI connections on ln until Shutdown.
func (s *FastCGIServer) Serve(ln net.Listener) error { return s.init().Serve(ln) }

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish, or for ctx to end.
func (s *FastCGIServer) Shutdown(ctx context.Context) error { return s.init().Shutdown(ctx) }

// UWSGIServer serves an App over the uwsgi protocol, as nginx's uwsgi_pass
// (and Apache's mod_proxy_uwsgi) speak it: one request per connection, its
// CGI variables in a packet (the environ as for FastCGIServer), the body
// after it as long as CONTENT_LENGTH says, and the response in plain
// HTTP/1.1 ended by closing the connection.
type UWSGIServer struct {
	App *App
	// HeaderTimeout bounds the time to receive the request packet
	// (default 30s).
	HeaderTimeout time.Duration
	// IOTimeout bounds one read of the body or one write of the response
	// that makes no progress (default 60s).
	IOTimeout time.Duration
	// MaxHeaders is the most request headers (HTTP_* variables) a request
	// may carry, as for FastCGIServer (default 100; negative: no limit but
	// the 64 KiB packet).
	MaxHeaders int

	once sync.Once
	gw   *gateway.UWSGI
}

func (s *UWSGIServer) init() *gateway.UWSGI {
	s.once.Do(func() {
		s.gw = &gateway.UWSGI{App: s.App.core, HeaderTimeout: s.HeaderTimeout, IOTimeout: s.IOTimeout, MaxHeaders: s.MaxHeaders}
	})
	return s.gw
}

// Serve accepts uwsgi connections on ln until Shutdown.
func (s *UWSGIServer) Serve(ln net.Listener) error { return s.init().Serve(ln) }

// Shutdown stops accepting, closes connections that sent no request, and
// waits for the requests in progress to finish, or for ctx to end.
func (s *UWSGIServer) Shutdown(ctx context.Context) error { return s.init().Shutdown(ctx) }

// CGIOptions adjust ServeCGI.
type CGIOptions struct {
	// IIS corrects PATH_INFO as wsgiref.handlers.IISCGIHandler does: IIS
	// sends the whole path in PATH_INFO, SCRIPT_NAME included, so a
	// PATH_INFO that starts with SCRIPT_NAME loses that prefix.
	IIS bool
}

// ServeCGI runs one request as a CGI program does, like
// wsgiref.handlers.CGIHandler: env holds the CGI variables ("NAME=value",
// as os.Environ returns them; all of them reach the environ, as in
// wsgiref), stdin the body, and the CGI response ("Status: 200 OK", the
// headers, a blank line, the body) goes to stdout. An application error
// before the head becomes a 500 response, its traceback in the error log.
// It returns an error when the response could not be written whole.
// The App should have been made with RunOnce and Multiprocess set (and
// one thread), as CGIHandler's environ says.
func (a *App) ServeCGI(env []string, stdin io.Reader, stdout io.Writer, opts CGIOptions) error {
	return gateway.ServeCGI(a.core, env, stdin, stdout, opts.IIS)
}
