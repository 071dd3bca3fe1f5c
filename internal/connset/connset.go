// Package connset is the listening side every server shares (the
// HTTP/1.1 engine, the FastCGI and uwsgi gateways): the accept loops, the
// connections open, and a graceful Shutdown that lets the requests in
// progress finish.
package connset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a connection a server keeps track of for Shutdown.
type Conn interface {
	comparable
	// CloseIfIdle closes the connection if it waits for a request.
	CloseIfIdle()
	// CloseNow closes it whatever it does: Shutdown's deadline passed.
	CloseNow()
}

// Set is the listening side every server shares (Server, the FastCGI
// and uwsgi servers): the accept loops, the connections open, and a
// graceful Shutdown that lets the requests in progress finish.
type Set[C Conn] struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[C]struct{}
	closing   atomic.Bool    // Shutdown began
	accepting sync.WaitGroup // Serve loops running
	done      chan struct{}  // the last connection went, during Shutdown
}

func (s *Set[C]) Init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[C]struct{})
		s.done = make(chan struct{})
	}
}

// Serve accepts connections on ln until shutdown: open makes each one's
// state, run serves it on its own goroutine.
func (s *Set[C]) Serve(ln net.Listener, log *slog.Logger, open func(net.Conn) C, run func(C)) error {
	if !s.Listen(ln) {
		return ErrServerClosed
	}
	defer s.Unlisten(ln)

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of descriptors or similar: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed; retrying", "error", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// A connection accepted as Shutdown begins is served all the same
		// (its client already sent its request, maybe): shutdown waits for
		// this loop before it counts the connections.
		c := open(nc)
		s.Track(c)
		go func() {
			defer s.Forget(c)
			// One broken connection must not take the process down.
			defer func() {
				if v := recover(); v != nil {
					log.Error("panic serving a connection", "remote", nc.RemoteAddr().String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					c.CloseNow()
				}
			}()
			run(c)
		}()
	}
}

// Listen records a listener, which shutdown closes; false if shutdown
// began.
func (s *Set[C]) Listen(ln net.Listener) bool {
	s.Init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	s.accepting.Add(1)
	return true
}

// Unlisten is the end of a listener's accepting.
func (s *Set[C]) Unlisten(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	s.accepting.Done()
}

// Track records a connection accepted.
func (s *Set[C]) Track(c C) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Set[C]) Forget(c C) {
	s.mu.Lock()
	delete(s.conns, c)
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty && s.closing.Load() {
		select {
		case s.done <- struct{}{}:
		default:
		}
	}
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish; their connections close after the
// response. When ctx ends first, the remaining connections are closed and
// ctx's error returned.
func (s *Set[C]) Shutdown(ctx context.Context) error {
	s.Init()
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.accepting.Wait()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			c.CloseIfIdle()
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.CloseNow()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-s.done:
		case <-tick.C:
		}
	}
}

// Count is the number of connections open.
func (s *Set[C]) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Find returns a connection for which match is true, if any. match runs
// under the Set's lock: it must not call the Set.
func (s *Set[C]) Find(match func(C) bool) (C, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if match(c) {
			return c, true
		}
	}
	var none C
	return none, false
}

// StartClosing marks Shutdown begun, before the caller's own first steps
// (a server whose listeners are not Serve's: their connections answer with
// Connection: close from now on).
func (s *Set[C]) StartClosing() { s.closing.Store(true) }

// Closing says whether Shutdown began.
func (s *Set[C]) Closing() bool { return s.closing.Load() }

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("gowsgi: server closed")

// FreshGrace is how long Shutdown lets a connection that has sent nothing
// yet send its first request: its client, having just connected, is
// sending it, and would not retry on a connection it never used.
const FreshGrace = time.Second

func isTemporaryAccept(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
