package core

// #include "gowsgi.h"
import "C"

import (
	"sync"
	"time"
)

// watchdog enforces Options.Timeout. It looks at the running requests a
// few times per timeout; one past it gets 504 at once from Go (which needs
// no GIL, so even a thread spinning in C cannot stop it), then
// gowsgi.RequestTimeout is raised in its Python thread. A thread that has
// not come back after a further grace period is stuck (in C code, a
// sleep, a lock): the App asks to be replaced, since no exception can free
// it.
type watchdog struct {
	pool    *pool
	timeout time.Duration
	grace   time.Duration
	done    chan struct{}
	once    sync.Once
	stuck   bool // Recycle was called for a stuck thread
}

func newWatchdog(p *pool, timeout time.Duration) *watchdog {
	w := &watchdog{pool: p, timeout: timeout, grace: max(time.Second, timeout/2), done: make(chan struct{})}
	go w.loop(min(max(timeout/10, 10*time.Millisecond), time.Second))
	return w
}

func (w *watchdog) stop() { w.once.Do(func() { close(w.done) }) }

func (w *watchdog) loop(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-tick.C:
		}
		now := Monotonic()
		for _, t := range w.pool.threads {
			r := t.current.Load()
			if r == nil {
				continue
			}
			ran := time.Duration(r.pythonTime(now))
			switch {
			case !r.expired.Load() && ran > w.timeout:
				w.expire(r)
			case r.expired.Load() && ran > w.timeout+w.grace && !w.stuck:
				w.stuck = true
				r.app.log.Error("a Python thread did not come back from a request past --timeout; asking for a replacement worker",
					"request", r.describe(), "ran", ran.Round(time.Millisecond))
				if w.pool.recycle != nil {
					w.pool.recycle("a Python thread is stuck in a request past --timeout")
				}
			}
		}
	}
}

// expire answers 504 (or cuts the response off, if it started) and
// interrupts the request's Python thread.
func (w *watchdog) expire(r *Request) {
	if !r.mu.TryLock() {
		return // writing to the client: the next look will do
	}
	r.expired.Store(true)
	r.closeAfter(Close) // said in the head: the client must not wait on this connection
	answered := "answered 504"
	if r.headSent {
		answered = "cut its response off (its head had gone out)"
	}
	if !r.headSent {
		r.respond(504, "Gateway Timeout")
	}
	r.closeAfter(Cut)
	r.sink.Abort()
	r.mu.Unlock()
	r.app.log.Error("request exceeded the timeout; "+answered+" and interrupting its Python thread",
		"request", r.describe(), "timeout", w.timeout)
	// Interrupting needs the GIL, which a thread spinning in C may never
	// give up: do it aside, holding the request alive meanwhile.
	r.refs.Add(1)
	generation := r.generation
	go postInterrupt(func() {
		C.gw_interrupt(r.c, C.uint64_t(generation))
		r.app.dropRequest(r)
	})
}

// startClock starts timing the Python run of a request.
func (r *Request) startClock() {
	r.pyStart.Store(Monotonic())
	r.ioNanos.Store(0)
	r.ioStart.Store(0)
	r.expired.Store(false)
}

// pythonTime is how long the request has run, less its waits for the
// client (reading the body, writing the response).
func (r *Request) pythonTime(now int64) int64 {
	t := now - r.pyStart.Load() - r.ioNanos.Load()
	if s := r.ioStart.Load(); s != 0 {
		t -= now - s
	}
	return t
}

// ioBegin and ioEnd bracket a wait for the client, when timing is on.
func (r *Request) ioBegin() {
	if r.app.pool.watch != nil {
		r.ioStart.Store(Monotonic())
	}
}

func (r *Request) ioEnd() {
	if r.app.pool.watch != nil {
		if s := r.ioStart.Swap(0); s != 0 {
			r.ioNanos.Add(Monotonic() - s)
		}
	}
}
