package gowsgi

import (
	"errors"
	"net/http"

	"github.com/gowsgi/gowsgi/internal/core"
	"github.com/gowsgi/gowsgi/internal/nethttp"
)

// App is a WSGI application loaded into the embedded interpreter, with its
// pool of Python threads. It is an http.Handler; Server serves it over
// plain HTTP/1.1 with less overhead.
type App struct {
	core *core.App
	opts Options
}

// LoadError is returned by New when the application cannot be imported or
// called: Traceback is Python's own account of it.
type LoadError struct {
	Spec      string
	Traceback string
}

func (e *LoadError) Error() string { return (*core.LoadError)(e).Error() }

// New imports the application named by opts.App (starting Python first, if
// needed) and starts its Python threads.
func New(opts Options) (*App, error) {
	copts := opts.core()
	c, err := core.New(copts)
	if err != nil {
		var le *core.LoadError
		if errors.As(err, &le) {
			return nil, (*LoadError)(le)
		}
		return nil, err
	}
	return &App{core: c, opts: opts.withDefaults(c.Options())}, nil
}

// Close stops the Python threads once their current requests finish and
// releases the application. Requests still queued get 503. Stop serving
// (http.Server.Shutdown, Server.Shutdown) before calling it.
func (a *App) Close() error { return a.core.Close() }

// Options returns the options the App runs with, defaults filled in.
func (a *App) Options() Options { return a.opts }

// Served is the number of requests that ran the application so far.
func (a *App) Served() int64 { return a.core.Served() }

// ServeHTTP runs the application for a request that arrived through
// net/http (HTTP/1.x, HTTP/2, TLS). http.ResponseWriter offers no way to
// choose a reason phrase, so the status line carries Go's standard one;
// Server keeps the application's own.
func (a *App) ServeHTTP(w http.ResponseWriter, hr *http.Request) { nethttp.ServeHTTP(a.core, w, hr) }
