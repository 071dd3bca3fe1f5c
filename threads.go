package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

var (
	errQueueFull    = errors.New("all Python threads are busy and the wait queue is full")
	errQueueTimeout = errors.New("no Python thread became free in time")
	errShuttingDown = errors.New("the application is shutting down")
)

// pool bounds the Python threads of one App. A request runs the application
// on the OS thread of its own goroutine, holding one of Threads slots: no
// hand-off to another thread, so a request costs no thread switch. Each OS
// thread that runs Python keeps one persistent Python thread state for life
// (Go never moves an OS thread to another), so threading.local and
// sqlite3's same-thread check see stable threads; Python code runs on at
// most Threads OS threads at a time.
//
// Requests finding every slot taken wait in a bounded queue: a flood costs
// a 503, never unbounded memory, nor an unbounded number of OS threads
// blocked in cgo waiting for the GIL.
type pool struct {
	app       *C.gw_app
	free      chan int                  // indexes of the free slots
	running   []atomic.Pointer[request] // the request in each slot
	waiting   atomic.Int64              // requests waiting for a slot
	queueSize int64
	timeout   time.Duration // longest wait for a slot; negative: no limit
	quit      chan struct{}
	closed    atomic.Bool

	served      atomic.Int64 // requests that ran the application
	maxRequests int64        // after this many, ask for a replacement (0: never)
	recycle     func(reason string)
	watch       *watchdog // nil without a request timeout
}

func newPool(app *C.gw_app, opts *Options) *pool {
	p := &pool{
		app:         app,
		free:        make(chan int, opts.Threads),
		running:     make([]atomic.Pointer[request], opts.Threads),
		queueSize:   int64(opts.QueueSize),
		timeout:     opts.QueueTimeout,
		quit:        make(chan struct{}),
		maxRequests: opts.MaxRequests,
		recycle:     opts.Recycle,
	}
	for i := 0; i < opts.Threads; i++ {
		p.free <- i
	}
	if opts.Timeout > 0 {
		p.watch = newWatchdog(p, opts.Timeout)
	}
	return p
}

// run runs the application for r on the calling goroutine's OS thread. It
// fails, without running r, when every slot is taken and the queue is
// full, when no slot frees within the queue timeout, or when the pool is
// shutting down.
func (p *pool) run(r *request) error {
	var slot int
	select {
	case slot = <-p.free:
	default:
		var err error
		if slot, err = p.wait(r); err != nil {
			return err
		}
	}
	defer func() { p.free <- slot }()
	if p.closed.Load() {
		return errShuttingDown
	}
	r.generation++
	r.c.generation = C.uint64_t(r.generation)
	if p.watch != nil {
		r.startClock()
		p.running[slot].Store(r)
		defer p.running[slot].Store(nil)
	}
	C.gw_handle(p.app, r.c)
	if n := p.served.Add(1); n == p.maxRequests && p.recycle != nil {
		p.recycle(fmt.Sprintf("served %d requests (max requests)", n))
	}
	return nil
}

// wait queues for a slot.
func (p *pool) wait(r *request) (int, error) {
	if p.waiting.Add(1) > p.queueSize {
		p.waiting.Add(-1)
		return 0, errQueueFull
	}
	defer p.waiting.Add(-1)
	var expired <-chan time.Time
	if p.timeout >= 0 {
		if r.timer == nil {
			r.timer = time.NewTimer(p.timeout)
		} else {
			r.timer.Reset(p.timeout)
		}
		defer r.timer.Stop()
		expired = r.timer.C
	}
	select {
	case slot := <-p.free:
		return slot, nil
	case <-expired:
		return 0, errQueueTimeout
	case <-p.quit:
		return 0, errShuttingDown
	}
}

// close turns queued and new requests away and waits for the running ones.
func (p *pool) close() {
	p.closed.Store(true)
	close(p.quit)
	if p.watch != nil {
		p.watch.stop()
	}
	for i := 0; i < cap(p.free); i++ {
		<-p.free
	}
}

// busy is the number of requests running in Python.
func (p *pool) busy() int { return cap(p.free) - len(p.free) }
