package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"errors"
	"runtime"
	"sync"
	"time"
)

// Request states: a request is claimed by exactly one of a Python thread
// (running) and its waiter giving up (cancelled).
const (
	stateQueued int32 = iota
	stateRunning
	stateCancelled
)

var (
	errQueueFull    = errors.New("all Python threads are busy and the wait queue is full")
	errQueueTimeout = errors.New("no Python thread became free in time")
	errShuttingDown = errors.New("the application is shutting down")
)

// pool is the set of Python threads of one App. Each thread is a goroutine
// locked to its OS thread for life, owning one persistent Python thread
// state; it blocks in Go (without the GIL) until a request arrives. Requests
// wait in a bounded queue, so a flood costs a 503, never unbounded memory or
// OS threads.
type pool struct {
	app     *C.gw_app
	queue   chan *request
	timeout time.Duration
	quit    chan struct{}
	threads sync.WaitGroup
}

func newPool(app *C.gw_app, threads, queueSize int, timeout time.Duration) *pool {
	p := &pool{
		app:     app,
		queue:   make(chan *request, queueSize),
		timeout: timeout,
		quit:    make(chan struct{}),
	}
	ready := make(chan struct{})
	for i := 0; i < threads; i++ {
		p.threads.Add(1)
		go p.thread(ready)
	}
	for i := 0; i < threads; i++ {
		<-ready
	}
	return p
}

func (p *pool) thread(ready chan<- struct{}) {
	defer p.threads.Done()
	// Never unlocked: Python keys thread-local state (threading.local,
	// sqlite3's same-thread check) by OS thread.
	runtime.LockOSThread()
	ts := C.gw_thread_new()
	ready <- struct{}{}
	for {
		select {
		case r := <-p.queue:
			if !r.state.CompareAndSwap(stateQueued, stateRunning) {
				continue // its waiter gave up
			}
			C.gw_handle(ts, p.app, r.c)
			r.done <- struct{}{}
		case <-p.quit:
			C.gw_thread_free(ts)
			return
		}
	}
}

// run hands r to a Python thread and waits until the application is done
// with it. It fails, without running r, when the queue is full, when no
// thread takes r within the queue timeout, or when the pool shuts down.
func (p *pool) run(r *request) error {
	r.state.Store(stateQueued)
	r.queueErr = nil
	select {
	case <-p.quit:
		return errShuttingDown
	default:
	}
	select {
	case p.queue <- r:
	default:
		return errQueueFull
	}
	if p.timeout < 0 {
		<-r.done
		return r.queueErr
	}
	if r.timer == nil {
		r.timer = time.NewTimer(p.timeout)
	} else {
		r.timer.Reset(p.timeout)
	}
	select {
	case <-r.done:
		r.timer.Stop()
		return r.queueErr
	case <-r.timer.C:
		if r.state.CompareAndSwap(stateQueued, stateCancelled) {
			return errQueueTimeout
		}
		<-r.done
		return r.queueErr
	}
}

// close stops the threads after their current request and turns the
// requests still queued away.
func (p *pool) close() {
	close(p.quit)
	p.threads.Wait()
	for {
		select {
		case r := <-p.queue:
			if r.state.CompareAndSwap(stateQueued, stateCancelled) {
				r.queueErr = errShuttingDown
				r.done <- struct{}{}
			}
		default:
			return
		}
	}
}
