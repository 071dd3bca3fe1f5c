package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"errors"
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
	slots     chan struct{} // one token per running request
	waiting   atomic.Int64  // requests waiting for a slot
	queueSize int64
	timeout   time.Duration // longest wait for a slot; negative: no limit
	quit      chan struct{}
	closed    atomic.Bool
}

func newPool(app *C.gw_app, threads, queueSize int, timeout time.Duration) *pool {
	return &pool{
		app:       app,
		slots:     make(chan struct{}, threads),
		queueSize: int64(queueSize),
		timeout:   timeout,
		quit:      make(chan struct{}),
	}
}

// run runs the application for r on the calling goroutine's OS thread. It
// fails, without running r, when every slot is taken and the queue is
// full, when no slot frees within the queue timeout, or when the pool is
// shutting down.
func (p *pool) run(r *request) error {
	select {
	case p.slots <- struct{}{}:
	default:
		if err := p.wait(r); err != nil {
			return err
		}
	}
	defer func() { <-p.slots }()
	if p.closed.Load() {
		return errShuttingDown
	}
	C.gw_handle(p.app, r.c)
	return nil
}

// wait queues for a slot.
func (p *pool) wait(r *request) error {
	if p.waiting.Add(1) > p.queueSize {
		p.waiting.Add(-1)
		return errQueueFull
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
	case p.slots <- struct{}{}:
		return nil
	case <-expired:
		return errQueueTimeout
	case <-p.quit:
		return errShuttingDown
	}
}

// close turns queued and new requests away and waits for the running ones.
func (p *pool) close() {
	p.closed.Store(true)
	close(p.quit)
	for i := 0; i < cap(p.slots); i++ {
		p.slots <- struct{}{}
	}
}

// busy is the number of requests running in Python.
func (p *pool) busy() int { return len(p.slots) }
