package gowsgi

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loop is the network side of an App's HTTP/1.1 engine: one epoll of its
// own holding the engine's listening sockets and connections. It has no
// goroutine of its own. Whichever Python thread is free waits in it (see
// pool): when a request arrives, that thread reads and parses it, runs it,
// and writes the response, with no hand-off to another thread; under load
// one wait returns many connections, whose requests the thread serves one
// after another. When every thread is busy in Python, a goroutine takes
// the loop over (pool.backstop) so requests keep being read, queued or
// refused.
//
// Only one holder at a time harvests the loop's events (pool.leading). A
// connection is owned by one party at a time, by its state: the loop (idle,
// waiting for its client), or whoever works on it (busy: the harvester
// reading its request, the queue, the Python thread running it).
type loop struct {
	pool     *pool
	epfd     int
	wakefd   int // an eventfd: written to end a wait (pool.kick)
	events   []unix.EpollEvent
	file     *os.File        // the epoll in Go's poller (waitInGo)
	rc       syscall.RawConn // ... to wait on
	pollOnce func(uintptr) bool
	polled   int

	mu        sync.Mutex
	conns     map[int32]*conn
	listeners map[int32]*engineListener
	nextSweep int64 // monotonic time of the next look at deadlines
}

// engineListener is a listening socket of a Server in the loop.
type engineListener struct {
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
}

// sweepEvery is how often the loop looks for connections past their
// deadlines (keep-alive, request head).
const sweepEvery = 50 * time.Millisecond

func newLoop(p *pool) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	l := &loop{pool: p, epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, 128),
		conns: make(map[int32]*conn), listeners: make(map[int32]*engineListener)}
	if err := l.ctl(unix.EPOLL_CTL_ADD, wakefd, unix.EPOLLIN); err != nil {
		l.close()
		return nil, err
	}
	// The epoll as a file of Go's poller, for waitInGo: a duplicate, made
	// non-blocking so that the poller takes it (epoll_wait ignores the flag).
	dup, err := unix.FcntlInt(uintptr(epfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		l.close()
		return nil, os.NewSyscallError("dup", err)
	}
	unix.SetNonblock(dup, true)
	l.file = os.NewFile(uintptr(dup), "gowsgi-loop")
	l.pollOnce = l.pollNow
	if l.rc, err = l.file.SyscallConn(); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *loop) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (l *loop) close() {
	if l.file != nil {
		l.file.Close()
	}
	unix.Close(l.epfd)
	unix.Close(l.wakefd)
}

var eventfdOne = binary.NativeEndian.AppendUint64(nil, 1)

// wake ends the wait of the thread waiting in the loop.
func (l *loop) wake() { unix.Write(l.wakefd, eventfdOne) }

// harvest waits for events (up to the next deadline sweep, if wait; else
// not at all), and serves them: new connections are accepted, readable
// ones read, and the requests that are complete go to the queue. It
// reports whether anything happened. While it waits, waiting is true (a
// request queued meanwhile must wake it). inKernel: it waits in
// epoll_wait on the calling thread, holding its Go processor, which costs
// no switch of thread when an event comes; else it waits in Go's
// scheduler, leaving the processor to the process's other goroutines.
func (l *loop) harvest(wait, inKernel bool, waiting *atomic.Bool) bool {
	timeout := 0
	now := monotonic()
	if wait {
		timeout = l.untilSweep(now)
	}
	waiting.Store(true)
	var n int
	if inKernel || timeout == 0 {
		n = l.poll(timeout)
	} else {
		n = l.waitInGo(timeout)
	}
	waiting.Store(false)
	l.serveEvents(n)
	if n > 0 || wait {
		now = monotonic()
	}
	if now >= l.nextSweep {
		l.sweep(now)
	}
	return n > 0
}

// poll is epoll_wait on the calling thread.
func (l *loop) poll(timeout int) int {
	n, err := unix.EpollWait(l.epfd, l.events, timeout)
	if err != nil {
		return 0 // EINTR
	}
	return n
}

// waitInGo waits for events through Go's network poller, which watches
// the loop's epoll (a duplicate of it), up to timeout ms (-1: no limit).
func (l *loop) waitInGo(timeout int) int {
	if timeout >= 0 {
		l.file.SetReadDeadline(time.Now().Add(time.Duration(timeout) * time.Millisecond))
	} else {
		l.file.SetReadDeadline(time.Time{})
	}
	l.polled = 0
	l.rc.Read(l.pollOnce)
	return l.polled
}

// pollNow is waitInGo's look at the epoll (l.pollOnce holds it as a func
// value made once: no closure allocated per wait).
func (l *loop) pollNow(uintptr) bool {
	l.polled = l.poll(0)
	return l.polled > 0
}

// serveEvents serves the n events harvested.
func (l *loop) serveEvents(n int) {
	for i := 0; i < n; i++ {
		ev := &l.events[i]
		if int(ev.Fd) == l.wakefd {
			var buf [8]byte
			unix.Read(l.wakefd, buf[:])
			continue
		}
		l.mu.Lock()
		c, ln := l.conns[ev.Fd], l.listeners[ev.Fd]
		l.mu.Unlock()
		switch {
		case c != nil:
			c.ready()
		case ln != nil:
			l.accept(ln)
		}
	}
}

// untilSweep is how long a wait may last, in milliseconds: until the next
// sweep, or for ever with no connection.
func (l *loop) untilSweep(now int64) int {
	l.mu.Lock()
	empty := len(l.conns) == 0
	l.mu.Unlock()
	if empty {
		return -1
	}
	if l.nextSweep <= now {
		return 0
	}
	return int((l.nextSweep-now)/int64(time.Millisecond)) + 1
}

// sweep closes the idle connections past their deadlines.
func (l *loop) sweep(now int64) {
	l.nextSweep = now + int64(sweepEvery)
	var expired []*conn
	l.mu.Lock()
	for _, c := range l.conns {
		if d := c.deadline.Load(); d != 0 && now > d {
			expired = append(expired, c)
		}
	}
	l.mu.Unlock()
	for _, c := range expired {
		if c.own() {
			c.expire()
		}
	}
}

// serve adds a Server's listening socket to the loop and returns when it
// closes.
func (l *loop) serve(srv *Server, ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return errors.New("gowsgi: Server needs a TCP or Unix socket listener (from net.Listen, or a listener with a SyscallConn method)")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	el := &engineListener{srv: srv, ln: ln, rc: rc, done: make(chan error, 1)}
	rc.Control(func(fd uintptr) {
		el.fd = int(fd)
		// Accepting must never block: another worker may take the
		// connection a wait reported.
		unix.SetNonblock(el.fd, true)
	})
	l.mu.Lock()
	l.listeners[int32(el.fd)] = el
	l.mu.Unlock()
	// EPOLLEXCLUSIVE: of the workers waiting on a shared socket, the kernel
	// wakes one per connection, not all.
	if err := l.ctl(unix.EPOLL_CTL_ADD, el.fd, unix.EPOLLIN|unix.EPOLLEXCLUSIVE); err != nil {
		l.dropListener(el, err)
	}
	return <-el.done
}

// dropListener takes a listening socket out of the loop; Serve returns err.
func (l *loop) dropListener(el *engineListener, err error) {
	el.mu.Lock()
	el.dropped = true
	el.mu.Unlock()
	el.once.Do(func() {
		l.mu.Lock()
		if l.listeners[int32(el.fd)] == el {
			delete(l.listeners, int32(el.fd))
		}
		l.mu.Unlock()
		// Before the socket closes: its number may be reused at once.
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, el.fd, nil)
		el.ln.Close()
		el.done <- err
	})
}

// stopServing takes a Server's listening sockets out of the loop and
// closes them (Shutdown).
func (l *loop) stopServing(srv *Server) {
	l.mu.Lock()
	var mine []*engineListener
	for _, el := range l.listeners {
		if el.srv == srv {
			mine = append(mine, el)
		}
	}
	l.mu.Unlock()
	for _, el := range mine {
		l.dropListener(el, ErrServerClosed)
	}
}

// accept takes the connections waiting on a listening socket.
func (l *loop) accept(el *engineListener) {
	el.mu.Lock()
	defer el.mu.Unlock()
	if el.dropped {
		return
	}
	for i := 0; i < 64; i++ {
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
			l.dropListener(el, ErrServerClosed) // closed by Shutdown
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
			l.pool.app.log.Warn("accept failed; retrying", "error", os.NewSyscallError("accept", aerr), "in", time.Second)
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, el.fd, nil)
			time.AfterFunc(time.Second, func() { l.ctl(unix.EPOLL_CTL_ADD, el.fd, unix.EPOLLIN|unix.EPOLLEXCLUSIVE) })
			return
		}
		l.open(el.srv, fd, sa)
	}
}

// open starts serving an accepted connection.
func (l *loop) open(srv *Server, fd int, sa unix.Sockaddr) {
	c := newConn(srv, fd, sa)
	srv.set.track(c)
	l.mu.Lock()
	l.conns[int32(fd)] = c
	l.mu.Unlock()
	if err := l.ctl(unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET); err != nil {
		c.close()
		return
	}
	// The client has often sent its request already.
	c.serveNext()
}

// forget takes a connection out of the loop before its descriptor closes.
func (l *loop) forget(c *conn) {
	l.mu.Lock()
	if l.conns[int32(c.sk.fd)] == c {
		delete(l.conns, int32(c.sk.fd))
	}
	l.mu.Unlock()
}
