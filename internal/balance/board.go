// Package balance keeps the connections of a master's workers level: the
// workers share a page of memory, a slot each, where each one keeps the
// count of its connections, and an eventfd each, through which another
// worker wakes it.
//
// Why: the workers accept from the same listening socket, each waiting
// on it in its epoll with EPOLLEXCLUSIVE, and the kernel wakes the first
// worker in the socket's line for each new connection. An idle worker is
// quick to wait again (accept, read, nothing yet: microseconds), so when a
// client opens its connections back to back (a load balancer's pool, a
// benchmark's clients) the first worker takes them all; with keep-alive
// they stay with it while the other workers sit idle. So a worker takes a
// connection only while it has no more than the least loaded one; else
// it steps aside and wakes that one (see the engine's balancer).
package balance

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The page: a header line, then a line per slot (64 bytes, so that one
// worker's count and another's are not in the same cache line).
const line = 64

// A slot's value: the count of its worker's connections times two, plus
// one while the worker accepts (live). Zero: free, or a worker that does
// not accept (starting, stopping, gone).
const live = 1

// Board is the shared page, as the master or a worker maps it.
type Board struct {
	mem []byte
}

// used is in the page's first line: how many slots may be in use (the
// highest one taken, plus one), which the workers scan.
func (b *Board) used() *atomic.Int64 { return (*atomic.Int64)(unsafe.Pointer(&b.mem[0])) }

func (b *Board) slot(i int) *atomic.Int64 {
	return (*atomic.Int64)(unsafe.Pointer(&b.mem[line*(1+i)]))
}

// Slots is how many workers a Host seats for n workers: room for a
// reload's replacements, which start beside the workers they replace. A
// worker beyond them (more added with TTIN) has no seat, and takes every
// connection it is woken for, as without a board.
func Slots(n int) int { return min(max(2*n, 8), 256) }

// Host is the master's side: it hands out the slots.
type Host struct {
	Board
	files []*os.File
	taken []bool
}

// NewHost makes the page and an eventfd for each of n slots.
func NewHost(n int) (*Host, error) {
	fd, err := unix.MemfdCreate("gowsgi-balance", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	page := os.NewFile(uintptr(fd), "balance page")
	size := line * (n + 1)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		page.Close()
		return nil, os.NewSyscallError("ftruncate", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		page.Close()
		return nil, os.NewSyscallError("mmap", err)
	}
	h := &Host{Board: Board{mem: mem}, files: []*os.File{page}, taken: make([]bool, n)}
	for range n {
		kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			h.Close()
			return nil, os.NewSyscallError("eventfd", err)
		}
		h.files = append(h.files, os.NewFile(uintptr(kick), "balance kick"))
	}
	return h, nil
}

// Close releases the master's page and descriptors.
func (h *Host) Close() {
	for _, f := range h.files {
		f.Close()
	}
	unix.Munmap(h.mem)
}

// Files are the descriptors a worker needs: the page, then the slots'
// eventfds (Join).
func (h *Host) Files() []*os.File { return h.files }

// Take hands out a free slot for a new worker; -1 when all are taken.
func (h *Host) Take() int {
	for i := range h.taken {
		if !h.taken[i] {
			h.taken[i] = true
			h.slot(i).Store(0)
			if u := h.used(); int64(i) >= u.Load() {
				u.Store(int64(i) + 1)
			}
			return i
		}
	}
	return -1
}

// Retire marks slot i's worker as no longer accepting: it is stopping,
// and the others must not wait for it to take connections.
func (h *Host) Retire(i int) {
	if i >= 0 {
		h.slot(i).And(^int64(live))
	}
}

// Free clears slot i once its worker is gone.
func (h *Host) Free(i int) {
	if i < 0 {
		return
	}
	h.slot(i).Store(0)
	h.taken[i] = false
	n := 0
	for j := range h.taken {
		if h.taken[j] {
			n = j + 1
		}
	}
	h.used().Store(int64(n))
}

// Seat takes a slot and joins it from the master's own process, on copies
// of the files (servers in one process that share a socket, as tests
// have them).
func (h *Host) Seat() (*Seat, error) {
	var files []*os.File
	for _, f := range h.files {
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			for _, c := range files {
				c.Close()
			}
			return nil, os.NewSyscallError("fcntl", err)
		}
		files = append(files, os.NewFile(uintptr(fd), f.Name()))
	}
	return Join(files, h.Take())
}

// Seat is a worker's side: its slot on the shared page, and the slots'
// eventfds: it waits on its own, and writes another's to wake that one.
type Seat struct {
	Board
	me    int
	mine  *atomic.Int64
	kicks []int
}

// Join maps the page (a worker's); files are Host.Files, slot the one
// Take gave it. It takes the files over.
func Join(files []*os.File, slot int) (*Seat, error) {
	n := len(files) - 1
	if n < 1 || slot < 0 || slot >= n {
		return nil, fmt.Errorf("balance: slot %d of %d", slot, n)
	}
	size := line * (n + 1)
	mem, err := unix.Mmap(int(files[0].Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, os.NewSyscallError("mmap", err)
	}
	s := &Seat{Board: Board{mem: mem}, me: slot}
	for _, f := range files[1:] {
		// The numbers, without the os.Files, whose finalizers would
		// close them.
		kfd, ferr := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if ferr != nil && err == nil {
			err = os.NewSyscallError("fcntl", ferr)
		}
		if ferr == nil {
			unix.SetNonblock(kfd, true)
			s.kicks = append(s.kicks, kfd)
		}
	}
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		for _, kfd := range s.kicks {
			unix.Close(kfd)
		}
		unix.Munmap(mem)
		return nil, err
	}
	s.mine = s.slot(slot)
	return s, nil
}

// Accepting shows the worker as taking connections; Leaving, as no longer
// (it stops serving): the others no longer wait for it.
func (s *Seat) Accepting() { s.mine.Or(live) }
func (s *Seat) Leaving()   { s.mine.And(^int64(live)) }

// Opened and Closed count the worker's connections.
func (s *Seat) Opened() { s.mine.Add(2) }
func (s *Seat) Closed() { s.mine.Add(-2) }

// least is the live worker with the fewest connections other than this
// one, and its count; -1 if there is none.
func (s *Seat) least() (slot int, count int64) {
	slot = -1
	n := min(int(s.used().Load()), len(s.kicks))
	for i := range n {
		if v := s.slot(i).Load(); i != s.me && v&live != 0 && (slot < 0 || v>>1 < count) {
			slot, count = i, v>>1
		}
	}
	return slot, count
}

// Fair tells whether this worker may take another connection: it has no
// more than any other worker that accepts.
func (s *Seat) Fair() bool {
	slot, count := s.least()
	return slot < 0 || s.mine.Load()>>1 <= count
}

// Kick wakes the least loaded other worker to take the connections this
// one leaves; false if there is none.
func (s *Seat) Kick() bool {
	slot, _ := s.least()
	if slot < 0 {
		return false
	}
	unix.Write(s.kicks[slot], one)
	return true
}

var one = binary.NativeEndian.AppendUint64(nil, 1)

// KickFD is this worker's eventfd, readable when another one asks it to
// take connections.
func (s *Seat) KickFD() int { return s.kicks[s.me] }

// Kicked resets this worker's eventfd.
func (s *Seat) Kicked() {
	var buf [8]byte
	unix.Read(s.kicks[s.me], buf[:])
}

var joined atomic.Pointer[Seat]

// SetJoined records the process's seat (a worker's, at start).
func SetJoined(s *Seat) { joined.Store(s) }

// Claim returns the process's seat to the first caller (the worker's
// HTTP server: a seat has one), nil to the others and outside a master's
// workers.
func Claim() *Seat { return joined.Swap(nil) }
