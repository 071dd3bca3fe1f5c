package gowsgi

import (
	"io"
	"log/slog"
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
)

// Options configure an App. The zero value of every field is a sensible
// default, except App, which names the application.
type Options struct {
	// App names the WSGI callable as gunicorn does: "pkg.module:name",
	// "pkg.module:factory(literal args)", or "pkg.module" for its
	// "application" (else "app").
	App string

	// Threads is the number of Python threads serving requests (default 1).
	// Each is a stable OS thread with its own Python thread state.
	Threads int

	// QueueSize bounds the requests waiting for a free Python thread
	// (default 1024). A request that finds the queue full is answered
	// 503 with Retry-After.
	QueueSize int

	// QueueTimeout bounds how long a request waits for a Python thread
	// (default 30s; negative: no limit). Past it, 503 with Retry-After.
	QueueTimeout time.Duration

	// ScriptName is the mount prefix: requests under it reach the
	// application with SCRIPT_NAME set to it and PATH_INFO the rest;
	// other requests get 404.
	ScriptName string

	// LimitRequestBody is the largest request body accepted, in memory and
	// on disk together (nginx's client_max_body_size, uWSGI's limit-post;
	// default 1 GiB, negative: no limit). A larger Content-Length gets 413
	// before a byte of the body is read; a chunked body gets 413 once it
	// passes the limit, and its connection is closed.
	LimitRequestBody int64

	// BodyBufferSize is the largest request body read completely before
	// the application runs (nginx's client_body_buffer_size, uWSGI's
	// post-buffering; default 64 KiB): a slow uploader then holds no
	// Python thread. Larger bodies are read by the application from the
	// client (the front end's body timeout bounds that wait), except
	// chunked ones, which are read to their end first, this much in memory
	// and the rest in a temporary file. 64 KiB takes the forms and JSON
	// of most requests at the cost of 64 MiB for 1,000 connections.
	BodyBufferSize int

	// SendTimeout and BodyTimeout bound the waits of a request served
	// through net/http (App as an http.Handler: TLS, HTTP/2) as
	// Server.SendTimeout and Server.BodyTimeout do for the engine: for a
	// client to take the response, and for one to send a body the
	// application reads; in all, for each MiB moved, so that a client
	// moving a byte now and then cannot renew them (default 60s each).
	// Past them the response is cut off, or wsgi.input raises OSError,
	// and the Python thread is free.
	SendTimeout time.Duration
	BodyTimeout time.Duration

	// BufferMemory bounds the memory the worker gives request buffers
	// beyond each connection's fixed 4 KiB: bodies read ahead, long heads
	// (default 16 MiB; negative: no limit). When it is used up a body is
	// read by the application instead, a chunked one goes to disk at once,
	// and a head that needs more room gets 503.
	BufferMemory int64

	// UploadDiskLimit bounds the disk the worker's spooled request bodies
	// take together, in TempDir (default 4 GiB; negative: no limit). A
	// body that would pass it gets 503 with Retry-After, and its
	// connection is closed.
	UploadDiskLimit int64

	// Multiprocess sets wsgi.multiprocess (true when several worker
	// processes serve the same application).
	Multiprocess bool

	// RunOnce sets wsgi.run_once: the process serves one request and
	// exits (the CGI gateway).
	RunOnce bool

	// Logger receives the error log: application tracebacks, malformed
	// requests, overload. Default slog.Default().
	Logger *slog.Logger

	// Errors receives what the application writes to wsgi.errors
	// (default os.Stderr).
	Errors io.Writer

	// AccessLog, if set, receives one line per request in AccessLogFormat
	// (default: gunicorn's, a combined log format).
	AccessLog       io.Writer
	AccessLogFormat string

	// Timeout, if positive, bounds the time a request's Python code may run
	// (time spent waiting for the client does not count). Past it the
	// client gets 504 and gowsgi.RequestTimeout is raised in the request's
	// Python thread; a thread that does not come back (stuck in C code)
	// makes the App call Recycle.
	Timeout time.Duration

	// MaxRequests, if positive: after that many requests the App calls
	// Recycle, once.
	MaxRequests int64

	// Recycle is called when the App wants its process replaced (by a
	// master process): a thread stuck past Timeout, MaxRequests reached.
	// The App keeps serving meanwhile.
	Recycle func(reason string)

	// Validate checks the application strictly against PEP 3333, as
	// wsgiref.validate does and more: each violation is logged as one line
	// naming the rule and the application's file and line, and answered
	// 500 (or the connection is cut when the head is out). It costs
	// Python work on every request: for development and tests.
	Validate bool

	// Debug answers an exception raised before the response began with an
	// HTML page of the exception, its traceback and the source around each
	// line, instead of the short 500. Every client sees it, so it is for
	// development only. The error log gets the traceback either way.
	Debug bool

	// ForwardedAllowIPs are the front ends (IP addresses, CIDR networks,
	// or "*" for any) believed when they say a request came over HTTPS
	// (gunicorn's forwarded_allow_ips); nil means DefaultForwardedAllowIPs,
	// this host, and an empty list nobody. Peers on Unix sockets are
	// always believed, as in gunicorn.
	ForwardedAllowIPs []string

	// SecureSchemeHeaders map the headers a trusted front end sets to the
	// value that means HTTPS (gunicorn's secure_scheme_headers): the first
	// present sets wsgi.url_scheme, and HTTPS=on for https; two that
	// disagree make the request a 400. Names are compared ignoring case,
	// values exactly. nil means DefaultSecureSchemeHeaders, an empty map
	// none.
	SecureSchemeHeaders map[string]string

	// TempDir is where request bodies too large for memory are spooled
	// (unlinked files); "" means os.TempDir().
	TempDir string

	// Dedicated says the process serves this App and little else (the
	// gowsgi command's workers): its Python threads then wait for the
	// network in the kernel, holding a Go processor, which costs no
	// switch of OS thread when a request comes. Otherwise they do so
	// only when the program has several processors (GOMAXPROCS), and
	// with one wait in Go's scheduler, leaving it to the program's other
	// goroutines.
	Dedicated bool

	// Python starts the interpreter, if no App started it yet.
	Python PythonConfig
}

// core is the core's view of the options, the public defaults put in.
func (o *Options) core() core.Options {
	allow := o.ForwardedAllowIPs
	if allow == nil {
		allow = DefaultForwardedAllowIPs
	}
	schemes := o.SecureSchemeHeaders
	if schemes == nil {
		schemes = DefaultSecureSchemeHeaders
	}
	format := o.AccessLogFormat
	if format == "" {
		format = DefaultAccessLogFormat
	}
	return core.Options{
		App: o.App, Threads: o.Threads, QueueSize: o.QueueSize, QueueTimeout: o.QueueTimeout,
		ScriptName: o.ScriptName, LimitRequestBody: o.LimitRequestBody,
		BodyBufferSize: o.BodyBufferSize, SendTimeout: o.SendTimeout, BodyTimeout: o.BodyTimeout, BufferMemory: o.BufferMemory, UploadDisk: o.UploadDiskLimit,
		Multiprocess: o.Multiprocess, RunOnce: o.RunOnce,
		Logger: o.Logger, Errors: o.Errors, AccessLog: o.AccessLog, AccessLogFormat: format,
		Timeout: o.Timeout, MaxRequests: o.MaxRequests, Recycle: o.Recycle,
		Validate: o.Validate, Debug: o.Debug,
		ForwardedAllowIPs: allow, SecureSchemeHeaders: schemes,
		TempDir: o.TempDir, Dedicated: o.Dedicated,
		Python:         o.Python.core(),
		ServerSoftware: "gowsgi/" + Version,
	}
}

// withDefaults is o with the defaults the core filled in.
func (o Options) withDefaults(c core.Options) Options {
	o.Threads, o.QueueSize, o.QueueTimeout = c.Threads, c.QueueSize, c.QueueTimeout
	o.Logger, o.Errors, o.ScriptName = c.Logger, c.Errors, c.ScriptName
	o.LimitRequestBody, o.BodyBufferSize = c.LimitRequestBody, c.BodyBufferSize
	o.SendTimeout, o.BodyTimeout = c.SendTimeout, c.BodyTimeout
	o.BufferMemory, o.UploadDiskLimit = c.BufferMemory, c.UploadDisk
	return o
}

// DefaultAccessLogFormat is gunicorn's default access log format.
const DefaultAccessLogFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// CheckAccessLogFormat tells whether format is a valid access log format
// (Options.AccessLogFormat), as New would: a server can refuse a bad one
// before it starts.
func CheckAccessLogFormat(format string) error { return core.CheckAccessLogFormat(format) }

// DefaultForwardedAllowIPs are the peers trusted when
// Options.ForwardedAllowIPs is nil: this host (gunicorn's default).
var DefaultForwardedAllowIPs = []string{"127.0.0.1", "::1"}

// DefaultSecureSchemeHeaders are gunicorn's: each header, and the value
// that means HTTPS.
var DefaultSecureSchemeHeaders = map[string]string{
	"X-FORWARDED-PROTOCOL": "ssl",
	"X-FORWARDED-PROTO":    "https",
	"X-FORWARDED-SSL":      "on",
}
