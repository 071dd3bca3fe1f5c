package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/connset"
	"github.com/gowsgi/gowsgi/internal/core"
)

// listener is a listening socket of a Server in its App's Poller: when a
// connection waits, the harvesting thread accepts it and reads its first
// request at once.
type listener struct {
	srv  *Server
	ln   net.Listener
	rc   syscall.RawConn
	fd   int
	done chan error // Serve's result
	once sync.Once

	// Accepting and dropping take turns: a connection accepted is
	// tracked by the Server before its Shutdown counts the connections.
	mu      sync.Mutex
	dropped bool
	aside   bool // out of the Poller: this worker has more connections than another (balancer)
	insist  bool // accept what waits whatever the counts: nobody took it while aside
}

// acceptEvents: of the workers waiting on a shared socket, the kernel
// wakes one per connection, not all (EPOLLEXCLUSIVE).
const acceptEvents = unix.EPOLLIN | unix.EPOLLEXCLUSIVE

// serve adds a listening socket to the Poller and returns when it closes.
func (s *Server) serve(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return errors.New("gowsgi: Server needs a TCP or Unix socket listener (from net.Listen, or a listener with a SyscallConn method)")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	el := &listener{srv: s, ln: ln, rc: rc, done: make(chan error, 1)}
	rc.Control(func(fd uintptr) {
		el.fd = int(fd)
		// Accepting must never block: another worker may take the
		// connection a wait reported.
		unix.SetNonblock(el.fd, true)
	})
	s.mu.Lock()
	s.listeners[el] = struct{}{}
	s.mu.Unlock()
	if err := s.poller.Add(el.fd, acceptEvents, el); err != nil {
		el.drop(err)
	} else if s.bal != nil {
		s.bal.seat.Accepting()
	}
	return <-el.done
}

// drop takes the listening socket out of the Poller; Serve returns err.
func (el *listener) drop(err error) {
	el.mu.Lock()
	el.dropped = true
	el.mu.Unlock()
	el.once.Do(func() {
		s := el.srv
		s.mu.Lock()
		delete(s.listeners, el)
		s.mu.Unlock()
		// Before the socket closes: its number may be reused at once.
		s.poller.Forget(el.fd, el, true)
		el.ln.Close()
		el.done <- err
	})
}

// listening returns the Server's listeners.
func (s *Server) listening() []*listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := make([]*listener, 0, len(s.listeners))
	for el := range s.listeners {
		mine = append(mine, el)
	}
	return mine
}

// stopServing takes the Server's listening sockets out of the Poller and
// closes them (Shutdown).
func (s *Server) stopServing() {
	mine := s.listening()
	if s.bal != nil {
		s.bal.seat.Leaving() // the other workers must not wait for this one
	}
	for _, el := range mine {
		el.drop(connset.ErrServerClosed)
	}
}

// Ready accepts the connections waiting on the listening socket.
func (el *listener) Ready() {
	el.mu.Lock()
	defer el.mu.Unlock()
	defer func() { el.insist = false }()
	if el.dropped || el.aside {
		return
	}
	s := el.srv
	// O_NONBLOCK belongs to the open socket, which every worker shares
	// (and another server's, when systemd gives both the same socket), and
	// any process holding it can clear it: os/exec does, passing it to a
	// child. A blocking accept here would stall the whole event loop, its
	// kept connections too, until a connection came.
	unix.SetNonblock(el.fd, true)
	for i := 0; i < 64; i++ {
		if !s.bal.fair(el) && s.bal.stepAside(el) {
			return
		}
		var fd int
		var sa unix.Sockaddr
		var aerr error
		// Through the listener's RawConn: Close cannot free the number
		// under us.
		err := el.rc.Control(func(lfd uintptr) {
			fd, sa, aerr = unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		})
		if err != nil {
			el.mu.Unlock()
			el.drop(connset.ErrServerClosed) // closed by Shutdown
			el.mu.Lock()
			return
		}
		switch aerr {
		case nil:
		case unix.EAGAIN, unix.ECONNABORTED, unix.EINTR:
			if aerr == unix.EAGAIN {
				return
			}
			continue
		default:
			// Out of descriptors, or similar: look again later, as
			// net/http does, rather than spin on a socket that stays
			// readable.
			s.app.Log().Warn("accept failed; retrying", "error", os.NewSyscallError("accept", aerr), "in", time.Second)
			s.poller.Ctl(unix.EPOLL_CTL_DEL, el.fd, 0)
			time.AfterFunc(time.Second, func() {
				el.mu.Lock()
				defer el.mu.Unlock()
				if !el.dropped && !el.aside { // else dropped, or back with its balancer
					s.poller.Ctl(unix.EPOLL_CTL_ADD, el.fd, acceptEvents)
				}
			})
			return
		}
		s.open(fd, sa)
	}
}

// open starts serving an accepted connection.
func (s *Server) open(fd int, sa unix.Sockaddr) {
	if max := s.cfg.MaxConnections; max > 0 && s.set.Count() >= max && !s.makeRoom() {
		s.turnAway(fd)
		return
	}
	c := newConn(s, fd, sa)
	s.set.Track(c)
	if s.bal != nil {
		s.bal.seat.Opened()
	}
	if err := s.poller.Add(fd, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET, c); err != nil {
		c.close()
		return
	}
	// The client has often sent its request already.
	c.serveNext()
}

// slowHead: at the connection limit, a connection whose request head has
// been arriving for this long (with the small body read ahead with it,
// if any; or that has sent nothing for this long since it opened) gives
// its place to a new one. A client on a working link sends a head in
// milliseconds; a thousand that trickle theirs (an attack of slow
// clients) would otherwise hold every place until the head timeout, and
// every other client would get 503.
const slowHead = time.Second

// makeRoom closes a connection that has been slow to send its request
// head for longer than slowHead, if there is one: the connection limit
// then admits a new one. Connections running a request, or kept alive
// between requests, are never taken.
func (s *Server) makeRoom() bool {
	now := core.CoarseNow()
	isSlow := func(c *conn) bool {
		since := c.idleHeadSince.Load()
		return since != 0 && now-since >= int64(slowHead)
	}
	for range 4 {
		slow, ok := s.set.Find(func(c *conn) bool { return c.state.Load() == connIdle && isSlow(c) })
		if !ok {
			return false
		}
		// Its event may have made another thread its owner meanwhile,
		// which may have served a request and left it idle and kept:
		// look again.
		if !slow.own() {
			continue
		}
		if !isSlow(slow) {
			if !slow.toIdle() {
				slow.serveNext() // an event came while it was ours
			}
			continue
		}
		if log := s.app.Log(); log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug("closed a connection slow to send its request head, to admit a new one: --max-connections reached",
				"remote", slow.peer.RemoteIP, "max", s.cfg.MaxConnections)
		}
		slow.close()
		return true
	}
	return false
}

// busyResponse answers a connection beyond MaxConnections.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 57\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" +
	"503 Service Unavailable: the server has too many clients\n"

// turnAway answers 503 to a connection beyond MaxConnections and closes it,
// without a buffer or a wait: what fits in the socket goes out, the
// request it may have sent is read and dropped (closing with unread data
// would reset the connection, and the client could lose the answer).
func (s *Server) turnAway(fd int) {
	unix.Write(fd, []byte(busyResponse))
	unix.Shutdown(fd, unix.SHUT_WR)
	var discard [512]byte
	for i := 0; i < 16; i++ {
		if n, err := unix.Read(fd, discard[:]); n <= 0 || err != nil {
			break
		}
	}
	unix.Close(fd)
	if log := s.app.Log(); log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("connection refused: --max-connections reached", "max", s.cfg.MaxConnections)
	}
}
