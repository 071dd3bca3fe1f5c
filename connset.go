package gowsgi

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

// trackedConn is a connection a server keeps track of for Shutdown.
type trackedConn interface {
	comparable
	// closeIfIdle closes the connection if it waits for a request.
	closeIfIdle()
	// closeNow closes it whatever it does: Shutdown's deadline passed.
	closeNow()
}

// connSet is the listening side every server shares (Server, the FastCGI
// and uwsgi servers): the accept loops, the connections open, and a
// graceful Shutdown that lets the requests in progress finish.
type connSet[C trackedConn] struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[C]struct{}
	closing   atomic.Bool
	accepting sync.WaitGroup // serve loops running
	done      chan struct{}  // the last connection went, during Shutdown
}

func (s *connSet[C]) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[C]struct{})
		s.done = make(chan struct{})
	}
}

// serve accepts connections on ln until shutdown: open makes each one's
// state, run serves it on its own goroutine.
func (s *connSet[C]) serve(ln net.Listener, log *slog.Logger, open func(net.Conn) C, run func(C)) error {
	if !s.listen(ln) {
		return ErrServerClosed
	}
	defer s.unlisten(ln)

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
		s.track(c)
		go func() {
			defer s.forget(c)
			// One broken connection must not take the process down.
			defer func() {
				if v := recover(); v != nil {
					log.Error("panic serving a connection", "remote", nc.RemoteAddr().String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					c.closeNow()
				}
			}()
			run(c)
		}()
	}
}

// listen records a listener, which shutdown closes; false if shutdown
// began.
func (s *connSet[C]) listen(ln net.Listener) bool {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	s.accepting.Add(1)
	return true
}

// unlisten is the end of a listener's accepting.
func (s *connSet[C]) unlisten(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	s.accepting.Done()
}

// track records a connection accepted.
func (s *connSet[C]) track(c C) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *connSet[C]) forget(c C) {
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

// shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish; their connections close after the
// response. When ctx ends first, the remaining connections are closed and
// ctx's error returned.
func (s *connSet[C]) shutdown(ctx context.Context) error {
	s.init()
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
			c.closeIfIdle()
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
				c.closeNow()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-s.done:
		case <-tick.C:
		}
	}
}

// count is the number of connections open.
func (s *connSet[C]) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func isTemporaryAccept(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
