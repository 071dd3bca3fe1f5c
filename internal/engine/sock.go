package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/core"
)

// sock is an accepted connection of the HTTP/1.1 engine as a bare,
// non-blocking descriptor: the App's Poller waits for it in an epoll of
// its own (not Go's network poller), and the Python thread that answers a
// request writes to it itself. An operation that would block waits in
// poll(2) on the calling thread, so a wait costs no hand-off to another
// thread; what waits is then that thread (a Python thread with the GIL
// released, or a goroutine of its own).
//
// Only the connection's current owner reads, writes and closes it; abort,
// from any goroutine, only shuts it down, and never after it was closed,
// so a descriptor number reused by another file is never touched.
type sock struct {
	fd     int
	mu     sync.Mutex
	closed bool
}

var errWouldBlock = errors.New("the operation would block")

// errTimeout is what a wait past its deadline returns.
var errTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }

var _ net.Error = errTimeout

// tryRead reads what is there: errWouldBlock if nothing is, io.EOF if the
// peer closed its side.
func (s *sock) tryRead(p []byte) (int, error) {
	for {
		n, err := unix.Read(s.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errWouldBlock
		}
		return 0, os.NewSyscallError("read", err)
	}
}

// read reads at least one byte, waiting for one as long as pc allows.
func (s *sock) read(p []byte, pc *core.Pace) (int, error) {
	for {
		n, err := s.tryRead(p)
		if err != errWouldBlock {
			pc.Add(n)
			return n, err
		}
		start := time.Now()
		err = s.wait(unix.POLLIN, pc.Deadline(start))
		pc.Spent(start)
		if err != nil {
			return 0, err
		}
	}
}

// writev writes all of bufs, waiting whenever the socket is full as long
// as pc allows (the client must take each MiB within its timeout).
func (s *sock) writev(bufs [][]byte, pc *core.Pace) (int64, error) {
	var total int64
	for len(bufs) > 0 {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			break
		}
		var n int
		var err error
		if len(bufs) == 1 {
			n, err = unix.Write(s.fd, bufs[0])
		} else {
			n, err = unix.Writev(s.fd, bufs[:min(len(bufs), 1024)])
		}
		if n > 0 {
			total += int64(n)
			pc.Add(n)
			for n > 0 {
				if n >= len(bufs[0]) {
					n -= len(bufs[0])
					bufs = bufs[1:]
				} else {
					bufs[0] = bufs[0][n:]
					n = 0
				}
			}
		}
		switch err {
		case nil, unix.EINTR:
		case unix.EAGAIN:
			start := time.Now()
			err := s.wait(unix.POLLOUT, pc.Deadline(start))
			pc.Spent(start)
			if err != nil {
				return total, err
			}
		default:
			return total, os.NewSyscallError("write", err)
		}
	}
	return total, nil
}

// Write writes p whole, as writev does.
func (s *sock) write(p []byte, pc *core.Pace) (int, error) {
	n, err := s.writev([][]byte{p}, pc)
	return int(n), err
}

// sendfile sends n bytes of the file fd from offset off with sendfile(2).
func (s *sock) sendfile(fd int, off, n int64, pc *core.Pace) (int64, error) {
	var sent int64
	for sent < n {
		chunk := int(min(n-sent, 1<<30))
		o := off + sent
		m, err := unix.Sendfile(s.fd, fd, &o, chunk)
		if m > 0 {
			sent += int64(m)
			pc.Add(m)
		}
		switch {
		case err == nil && m == 0:
			return sent, io.ErrUnexpectedEOF // the file is shorter than announced
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN:
			start := time.Now()
			err := s.wait(unix.POLLOUT, pc.Deadline(start))
			pc.Spent(start)
			if err != nil {
				return sent, err
			}
		default:
			return sent, os.NewSyscallError("sendfile", err)
		}
	}
	return sent, nil
}

// wait blocks in poll(2) until the socket is ready for events or deadline
// passes.
func (s *sock) wait(events int16, deadline time.Time) error {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errTimeout
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: events}}
		ms := int((left + time.Millisecond - 1) / time.Millisecond)
		n, err := unix.Poll(fds, ms)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return os.NewSyscallError("poll", err)
		case n == 0:
			continue // the deadline decides
		}
		// Readable, writable, or an error or hang-up the next call reports.
		return nil
	}
}

func (s *sock) setInt(level, opt, value int) error {
	return unix.SetsockoptInt(s.fd, level, opt, value)
}

// abort shuts the connection down from any goroutine: the owner's blocked
// operations fail at once, the client sees the end.
func (s *sock) abort() {
	s.mu.Lock()
	if !s.closed {
		unix.Shutdown(s.fd, unix.SHUT_RDWR)
	}
	s.mu.Unlock()
}

// close closes the descriptor; the owner calls it once.
func (s *sock) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		unix.Close(s.fd)
	}
	s.mu.Unlock()
}

// aside is the connection as an *os.File on a duplicate descriptor, for a
// goroutine of its own to read with Go's network poller (a chunked body
// that may trickle in): a waiting goroutine costs no OS thread. Closing it
// leaves the connection open.
func (s *sock) aside() (*os.File, error) {
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("dup", err)
	}
	return os.NewFile(uintptr(fd), "conn"), nil
}

// sockaddrString is a socket address as net.Addr.String() prints it:
// "ip:port", "[ipv6]:port"; "" for a Unix socket.
func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		ip := net.IP(a.Addr[:])
		if v4 := ip.To4(); v4 != nil && isMappedV4(a.Addr) {
			return net.JoinHostPort(v4.String(), strconv.Itoa(a.Port))
		}
		return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
	}
	return ""
}

func isMappedV4(a [16]byte) bool {
	for i := 0; i < 10; i++ {
		if a[i] != 0 {
			return false
		}
	}
	return a[10] == 0xff && a[11] == 0xff
}
