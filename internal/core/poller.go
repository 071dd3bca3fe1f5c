package core

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Poller is the network side of an App: one epoll of its own, holding the
// sockets of the front ends that serve the App from it (the HTTP/1.1
// engine's listeners and connections). It has no goroutine of its own.
// Whichever Python thread is free waits in it (see pool): when a request
// arrives, that thread reads and parses it, runs it, and writes the
// response, with no hand-off to another thread; under load one wait
// returns many sockets, whose requests the thread serves one after
// another. When every thread is busy in Python, a goroutine takes the
// poller over (pool.backstop) so requests keep being read, queued or
// refused.
//
// Only one holder at a time harvests its events (pool.leading).
type Poller struct {
	epfd     int
	wakefd   int // an eventfd: written to end a wait (Wake)
	events   []unix.EpollEvent
	file     *os.File        // the epoll in Go's poller while waits go through it (waitInGo)
	rc       syscall.RawConn // ... to wait on
	pollOnce func(uintptr) bool
	polled   int

	mu        sync.Mutex
	handlers  map[int32]Handler
	swept     int       // handlers with deadlines (Sweeper)
	nextSweep int64     // monotonic time of the next look at deadlines
	sweepBuf  []Sweeper // reused by sweep, which one harvester runs at a time
}

// Handler is what a socket in the Poller does when it has an event; it
// runs on the harvesting thread.
type Handler interface {
	Ready()
}

// Sweeper is a Handler with deadlines: the Poller calls Sweep every
// SweepEvery with the monotonic time, and waits no longer than that while
// one is registered.
type Sweeper interface {
	Handler
	Sweep(now int64)
}

// SweepEvery is how often the Poller looks at its sockets' deadlines
// (keep-alive, request head).
const SweepEvery = 50 * time.Millisecond

func newPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	l := &Poller{epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, 128), handlers: make(map[int32]Handler)}
	if err := l.Ctl(unix.EPOLL_CTL_ADD, wakefd, unix.EPOLLIN); err != nil {
		l.close()
		return nil, err
	}
	l.pollOnce = l.pollNow
	return l, nil
}

// Ctl is epoll_ctl on the Poller's epoll.
func (l *Poller) Ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Add registers h for the events of fd.
func (l *Poller) Add(fd int, events uint32, h Handler) error {
	l.mu.Lock()
	l.handlers[int32(fd)] = h
	if _, ok := h.(Sweeper); ok {
		l.swept++
	}
	l.mu.Unlock()
	return l.Ctl(unix.EPOLL_CTL_ADD, fd, events)
}

// Forget takes h out of the Poller before fd closes (its number may be
// reused at once); remove says to take fd out of the epoll too, when it
// stays open.
func (l *Poller) Forget(fd int, h Handler, remove bool) {
	l.mu.Lock()
	if l.handlers[int32(fd)] == h {
		delete(l.handlers, int32(fd))
		if _, ok := h.(Sweeper); ok {
			l.swept--
		}
	}
	l.mu.Unlock()
	if remove {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}

func (l *Poller) close() {
	if l.file != nil {
		l.file.Close()
	}
	unix.Close(l.epfd)
	unix.Close(l.wakefd)
}

var eventfdOne = binary.NativeEndian.AppendUint64(nil, 1)

// Wake ends the wait of the thread waiting in the Poller.
func (l *Poller) Wake() { unix.Write(l.wakefd, eventfdOne) }

// harvest waits for events (up to the next deadline sweep, if wait; else
// not at all), and serves them: each socket's Handler reads, accepts,
// queues requests. It reports whether anything happened. The caller set
// waiting (a request queued meanwhile must wake it); it is false once the
// wait is over. inKernel: it
// waits in epoll_wait on the calling thread, holding its Go processor,
// which costs no switch of thread when an event comes; else it waits in
// Go's scheduler, leaving the processor to the process's other goroutines.
func (l *Poller) harvest(wait, inKernel bool, waiting *atomic.Bool) bool {
	timeout := 0
	now := Monotonic()
	if wait {
		timeout = l.untilSweep(now)
	}
	var n int
	switch {
	case inKernel:
		l.leaveGoPoller()
		n = l.poll(timeout)
	case timeout == 0:
		n = l.poll(0)
	default:
		n = l.waitInGo(timeout)
	}
	waiting.Store(false)
	l.serveEvents(n)
	if n > 0 || wait {
		now = Monotonic()
	}
	if now >= l.nextSweep {
		l.sweep(now)
	}
	return n > 0
}

// poll is epoll_wait on the calling thread.
func (l *Poller) poll(timeout int) int {
	n, err := unix.EpollWait(l.epfd, l.events, timeout)
	if err != nil {
		return 0 // EINTR
	}
	return n
}

// waitInGo waits for events through Go's network poller, which watches
// the epoll (a duplicate of it), up to timeout ms (-1: no limit).
func (l *Poller) waitInGo(timeout int) int {
	if l.file == nil && !l.joinGoPoller() {
		return l.poll(timeout)
	}
	if timeout >= 0 {
		l.file.SetReadDeadline(time.Now().Add(time.Duration(timeout) * time.Millisecond))
	} else {
		l.file.SetReadDeadline(time.Time{})
	}
	l.polled = 0
	l.rc.Read(l.pollOnce)
	return l.polled
}

// joinGoPoller puts the epoll (a duplicate, made non-blocking so that Go's
// poller takes it; epoll_wait ignores the flag) in Go's network poller,
// for waitInGo. Only while waits go through it: the epoll stays readable
// while it has events, and Go's poller, which watches for a change to
// readable, is woken by nearly every request that arrives; with a Go
// processor idle, a thread of the runtime waits there, and its needless
// wake-ups take the CPU from the Python threads (on one CPU with two
// processors, a third of a small view's rate).
func (l *Poller) joinGoPoller() bool {
	dup, err := unix.FcntlInt(uintptr(l.epfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.SetNonblock(dup, true)
	file := os.NewFile(uintptr(dup), "gowsgi-poller")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return false
	}
	l.file, l.rc = file, rc
	return true
}

// leaveGoPoller takes the epoll out of Go's poller when waits are in the
// kernel again (see joinGoPoller).
func (l *Poller) leaveGoPoller() {
	if l.file != nil {
		l.file.Close()
		l.file, l.rc = nil, nil
	}
}

// pollNow is waitInGo's look at the epoll (l.pollOnce holds it as a func
// value made once: no closure allocated per wait).
func (l *Poller) pollNow(uintptr) bool {
	l.polled = l.poll(0)
	return l.polled > 0
}

// serveEvents serves the n events harvested.
func (l *Poller) serveEvents(n int) {
	for i := 0; i < n; i++ {
		ev := &l.events[i]
		if int(ev.Fd) == l.wakefd {
			var buf [8]byte
			unix.Read(l.wakefd, buf[:])
			continue
		}
		l.mu.Lock()
		h := l.handlers[ev.Fd]
		l.mu.Unlock()
		if h != nil {
			h.Ready()
		}
	}
}

// untilSweep is how long a wait may last, in milliseconds: until the next
// sweep, or for ever with no socket that has deadlines.
func (l *Poller) untilSweep(now int64) int {
	l.mu.Lock()
	none := l.swept == 0
	l.mu.Unlock()
	if none {
		return -1
	}
	if l.nextSweep <= now {
		return 0
	}
	return int((l.nextSweep-now)/int64(time.Millisecond)) + 1
}

// sweep lets the sockets with deadlines look at them.
func (l *Poller) sweep(now int64) {
	l.nextSweep = now + int64(SweepEvery)
	// Collected first: a Sweeper that closes takes itself out (Forget).
	swept := l.sweepBuf[:0]
	l.mu.Lock()
	for _, h := range l.handlers {
		if s, ok := h.(Sweeper); ok {
			swept = append(swept, s)
		}
	}
	l.mu.Unlock()
	for _, s := range swept {
		s.Sweep(now)
	}
	clear(swept) // no closed connection kept alive by the buffer
	l.sweepBuf = swept[:0]
}
