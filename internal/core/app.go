// Package core is everything gowsgi does over Python's C API: the embedded
// interpreter, the App and its Python threads, the request from its
// environ to its response, and the one set of steps every front end takes
// (frontend.go). Front ends import it; it imports none of them. See
// docs/architecture.md.
package core

// #include <stdlib.h>
// #include "gowsgi.h"
import "C"

import (
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

//go:embed loader.py
var loaderSource string

//go:embed validate.py
var validateSource string

//go:embed debugpage.py
var debugPageSource string

// App is a WSGI application loaded into the embedded interpreter, with its
// pool of Python threads. It is an http.Handler; Server serves it over
// plain HTTP/1.1 with less overhead.
type App struct {
	opts   Options
	c      *C.gw_app
	handle cgo.Handle
	pool   *pool
	log    *slog.Logger
	access *accessLogger
	proxy  *proxyTrust

	memory *Budget // request buffers in memory, worker-wide
	disk   *Budget // spooled request bodies, worker-wide

	errorsMu sync.Mutex    // serializes wsgi.errors writes
	free     chan *Request // requests kept for reuse
	closed   atomic.Bool
	stopped  chan struct{} // the threads are gone and the application released
}

// LoadError is returned by New when the application cannot be imported or
// called: Traceback is Python's own account of it.
type LoadError struct {
	Spec      string
	Traceback string
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("gowsgi: cannot load application %q:\n%s", e.Spec, e.Traceback)
}

// New imports the application named by opts.App (starting Python first, if
// needed) and starts its Python threads.
func New(opts Options) (*App, error) {
	opts.setDefaults()
	if opts.App == "" {
		return nil, errors.New("gowsgi: no application given (Options.App, e.g. \"myproject.wsgi:application\")")
	}
	if err := StartPython(opts.Python); err != nil {
		return nil, err
	}
	access, err := newAccessLogger(opts.AccessLog, opts.AccessLogFormat)
	if err != nil {
		return nil, err
	}
	proxy, err := newProxyTrust(&opts)
	if err != nil {
		return nil, err
	}
	a := &App{opts: opts, log: opts.Logger, access: access, proxy: proxy, free: make(chan *Request, opts.Threads+64),
		memory: NewBudget(opts.BufferMemory), disk: NewBudget(opts.UploadDisk)}
	a.handle = cgo.NewHandle(a)

	spec, loader, software := C.CString(opts.App), C.CString(loaderSource), C.CString(opts.ServerSoftware)
	defer C.free(unsafe.Pointer(spec))
	defer C.free(unsafe.Pointer(loader))
	defer C.free(unsafe.Pointer(software))
	var validate *C.char
	if opts.Validate {
		validate = C.CString(validateSource)
		defer C.free(unsafe.Pointer(validate))
	}
	cfg := C.gw_app_config{
		handle:          C.uintptr_t(a.handle),
		multithread:     cbool(opts.Threads > 1),
		multiprocess:    cbool(opts.Multiprocess),
		run_once:        cbool(opts.RunOnce),
		server_software: software,
		validate_source: validate,
	}
	if opts.Debug {
		a.log.Warn("Debug mode (--debug) shows tracebacks to every client: never use it in production")
		cfg.debug_source = C.CString(debugPageSource)
		defer C.free(unsafe.Pointer(cfg.debug_source))
	}
	if a.pool, err = newPool(a); err != nil {
		a.handle.Delete()
		return nil, err
	}
	a.stopped = make(chan struct{})
	var cerr *C.char
	loaded := make(chan struct{})
	// The first thread imports the application, serves, and at the end
	// releases it, once the other threads are gone.
	first := func() {
		a.c = C.gw_app_load(spec, loader, &cfg, &cerr)
		close(loaded)
		if a.c == nil {
			return
		}
		a.pool.threads[0].loop()
		a.pool.exited.Wait()
		C.gw_app_free(a.c)
		a.pool.release()
		close(a.stopped)
	}
	if !lendPythonMain(first, a.pool) {
		go func() {
			runtime.LockOSThread() // for good: the OS thread ends with it
			C.gw_thread_attach()
			first()
			C.gw_thread_detach()
		}()
	}
	<-loaded
	if a.c == nil {
		a.pool.release()
		a.handle.Delete()
		return nil, &LoadError{Spec: opts.App, Traceback: takeCString(cerr)}
	}
	a.pool.start()
	if opts.Validate {
		a.log.Info("Validating " + opts.App + " against PEP 3333: each violation is logged and answered 500")
	}
	return a, nil
}

// Close stops the Python threads once their current requests finish and
// releases the application. Requests still queued get 503. Stop serving
// (http.Server.Shutdown, Server.Shutdown) before calling it.
func (a *App) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	a.pool.close()
	<-a.stopped
	a.handle.Delete()
	for {
		select {
		case r := <-a.free:
			r.destroy()
		default:
			return nil
		}
	}
}

// Options returns the options the App runs with, defaults filled in.
func (a *App) Options() Options { return a.opts }

// Served is the number of requests that ran the application so far.
func (a *App) Served() int64 { return a.pool.served.Load() }

func (a *App) getRequest() *Request {
	var r *Request
	select {
	case r = <-a.free:
	default:
		r = newRequest(a)
	}
	r.refs.Store(1)
	return r
}

// putRequest is the front end's end of a request. The request is kept for
// reuse unless an interruption still holds it.
func (a *App) putRequest(r *Request) { a.dropRequest(r) }

func (a *App) dropRequest(r *Request) {
	if r.refs.Add(-1) != 0 {
		return
	}
	r.recycle()
	select {
	case a.free <- r:
	default:
		r.destroy()
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
