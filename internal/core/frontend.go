package core

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// A front end (the HTTP/1.1 engine, net/http, FastCGI, uwsgi, CGI) takes a
// request to the application in the same steps, here:
//
//	r := app.Begin(sink, owner)     // its response goes to sink
//	status := r.EnvironFromX(...)   // environ.go: 0, or a 4xx to answer
//	... r.SetBody(body, length, ...) // 0, or 400/413
//	r.Refuse(status)                 // a status instead of the application
//	r.Submit() / r.Run()             // on a Python thread: queued, or waited for
//	ending := r.End()                // 503 if no thread took it, the access log
//
// Serve is those steps for the gateways, which wait for the response on
// their own goroutine; net/http takes them one by one (to tell a panic
// before End from one in it). The engine, which does not wait, takes them
// one by one too: its Owner hears when a thread is through with the
// request.

// Begin takes a request whose response goes to s. o is where it goes back
// once a Python thread is through with it (Submit); nil for Run and Serve.
func (a *App) Begin(s Sink, o Owner) *Request {
	r := a.getRequest()
	r.sink, r.owner = s, o
	r.stamp()
	return r
}

// SetBody prepares the request body (see setBody): length is the
// Content-Length, BodyUnknown or BodyAbsent. It returns 0, or the status to
// answer instead of running the application (400, 413), which it logs.
func (r *Request) SetBody(body io.Reader, length int64, waitContinue bool) int {
	status, err := r.setBody(body, length, waitContinue)
	if status != 0 {
		r.app.log.Info("rejected request body", "request", r.describe(), "error", err)
	}
	return status
}

// Refuse answers status (a 4xx the front end or SetBody decided) instead of
// running the application.
func (r *Request) Refuse(status int) {
	if status == 503 {
		// The worker is out of a budget for now: the client may retry.
		r.respond(status, http.StatusText(status), [2]string{"Retry-After", "1"})
		return
	}
	r.respond(status, http.StatusText(status))
}

// Submit queues the request for a Python thread and returns at once; its
// Owner's Finished runs on the thread once it is through (or at once, for
// a request the queue refuses).
func (r *Request) Submit() { r.app.pool.submit(r) }

// Run runs the request on a Python thread and returns once the response
// is sent (End answers 503 if no thread would take it).
func (r *Request) Run() { r.serveErr = r.app.pool.serve(r) }

// End ends the exchange: 503 for a request no thread took, the access log.
// The request is released (the caller must not use it again); what it
// returns says whether the connection may carry another.
func (r *Request) End() Ending {
	a := r.app
	if r.serveErr != nil {
		a.log.Warn("request not served", "request", r.describe(), "reason", r.serveErr)
		r.respond(503, "Service Unavailable", [2]string{"Retry-After", "1"})
	}
	a.access.log(r)
	ending := r.ending
	a.putRequest(r)
	return ending
}

// Serve is the whole exchange for a front end that waits on its own
// goroutine, once the environ is filled (status is what that left: 0 to
// run): the body, the application or the status, End.
func (r *Request) Serve(status int, body io.Reader, length int64, waitContinue bool) Ending {
	// A panic before End (the gateway's own code) still ends the request
	// once, as a 500 if nothing was sent, on its way to the connection's
	// recovery; one inside End must not end it twice.
	ended := false
	defer func() {
		if !ended {
			r.Abandon()
			r.End()
		}
	}()
	if status == 0 {
		status = r.SetBody(body, length, waitContinue)
	}
	if status != 0 {
		r.Refuse(status)
	} else {
		r.Run()
	}
	ended = true
	return r.End()
}

// Abandon ends an exchange whose front end panicked: a 500 if nothing was
// sent yet; the connection closes either way. End follows.
func (r *Request) Abandon() { r.abandon() }

// HeadSent says whether the response's head went to the Sink.
func (r *Request) HeadSent() bool { return r.headSent }

// Describe names the request in log lines: "GET /path?query".
func (r *Request) Describe() string { return r.describe() }

// Log is the App's error log.
func (a *App) Log() *slog.Logger { return a.log }

// Poller is the App's epoll, where the engine puts its sockets.
func (a *App) Poller() *Poller { return a.pool.poller }

// Memory is the worker-wide budget of request buffers in memory: a front
// end takes from it what a client makes it hold beyond a connection's
// fixed buffers (a long head, a body read ahead).
func (a *App) Memory() *Budget { return a.memory }

// Disk is the worker-wide budget of request bodies spooled to disk.
func (a *App) Disk() *Budget { return a.disk }

// BodyBufferSize is how large a body with a Content-Length may be to be
// read before the application runs.
func (a *App) BodyBufferSize() int { return a.opts.BodyBufferSize }

// Timeouts are the longest waits, in all for each MiB, for a client to
// take a response and to send its body, on front ends that do not set
// their own (net/http).
func (a *App) Timeouts() (send, body time.Duration) { return a.opts.SendTimeout, a.opts.BodyTimeout }

// TestHook is a function tests may set to break a request at one point.
type TestHook struct {
	f atomic.Pointer[func(*Request)]
}

// Set sets the hook (nil: none).
func (h *TestHook) Set(f func(*Request)) {
	if f == nil {
		h.f.Store(nil)
		return
	}
	h.f.Store(&f)
}

func (h *TestHook) run(r *Request) {
	if f := h.f.Load(); f != nil {
		(*f)(r)
	}
}

// AfterEnviron breaks a front end as it reads a request; BeforeFinish
// breaks a response as it is sent.
var AfterEnviron, BeforeFinish TestHook

// BeforeWait runs on the harvester (a Python thread, or the backstop) that
// found no request queued, just before it waits in the Poller, with no
// request (nil): what a test queues then must wake it.
var BeforeWait TestHook

// App is the App the request belongs to.
func (r *Request) App() *App { return r.app }

// Busy is the number of Python threads running a request (for status
// and tests).
func (a *App) Busy() int { return a.pool.busy() }

// Waiting is the number of requests queued for a Python thread.
func (a *App) Waiting() int { return a.pool.waitingRequests() }

// StopWatchdog stops the timeout's watchdog of an App that is left
// running with threads stuck in Python (tests end so).
func (a *App) StopWatchdog() {
	if w := a.pool.watch; w != nil {
		w.stop()
	}
}

// PoolState describes the Python threads' scheduling, for the message of
// a test that finds them stuck.
func (a *App) PoolState() string {
	p := a.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("idle %d running %d leading %v rescuing %v inPython %d queue %d", len(p.idle), p.running, p.leading, p.rescuing, p.inPython, p.queue.len())
}
