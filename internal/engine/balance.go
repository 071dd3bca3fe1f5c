package engine

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/balance"
)

// A master's workers keep their connections level through a shared board
// (package balance): a worker accepts only while it has no more
// connections than any other. When it has more, its listener steps
// aside: it leaves the Poller, so that the kernel wakes the other workers
// for new connections, and the least loaded worker is kicked to take
// those already waiting. It comes back when another worker kicks it in
// turn, or after asideFor at the latest; if connections still wait then,
// nobody took them (the others are stuck or busy), and it accepts them
// whatever its count: balancing delays a connection by asideFor at most.

// asideFor is the longest a listener stays out of the Poller.
const asideFor = 20 * time.Millisecond

// balancer is a Server's part in the board.
type balancer struct {
	srv   *Server
	seat  *balance.Seat
	timer int // a timerfd, armed while a listener is aside
}

// kicked is the Handler of the worker's eventfd on the board.
type kicked struct{ b *balancer }

// asideTimer is the Handler of the timerfd.
type asideTimer struct{ b *balancer }

// newBalancer puts the seat's eventfd and a timerfd in the Poller; nil if
// it cannot (the Server then accepts whatever its count).
func (s *Server) newBalancer(seat *balance.Seat) *balancer {
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	b := &balancer{srv: s, seat: seat, timer: tfd}
	if s.poller.Add(seat.KickFD(), unix.EPOLLIN, kicked{b}) != nil {
		unix.Close(tfd)
		return nil
	}
	if s.poller.Add(tfd, unix.EPOLLIN, asideTimer{b}) != nil {
		s.poller.Forget(seat.KickFD(), kicked{b}, true)
		unix.Close(tfd)
		return nil
	}
	return b
}

// Ready: another worker asks this one to take the connections waiting.
func (k kicked) Ready() {
	k.b.seat.Kicked()
	k.b.comeBack(false)
}

// Ready: a listener has been aside for asideFor.
func (t asideTimer) Ready() {
	var buf [8]byte
	if n, _ := unix.Read(t.b.timer, buf[:]); n != len(buf) {
		return // re-armed since this event was harvested: not due yet
	}
	t.b.comeBack(true)
}

// comeBack puts the Server's listeners that stepped aside back in the
// Poller and accepts what waits; insist: whatever the counts.
func (b *balancer) comeBack(insist bool) {
	s := b.srv
	for _, el := range s.listening() {
		el.mu.Lock()
		// Only one that was aside insists: one that came back since
		// (kicked) accepts as fairly as before.
		el.insist = insist && el.aside
		if el.aside && !el.dropped {
			el.aside = false
			s.poller.Ctl(unix.EPOLL_CTL_ADD, el.fd, acceptEvents)
		}
		el.mu.Unlock()
		el.Ready()
	}
}

// stepAside takes the listener out of the Poller, kicks the least loaded
// worker, and arms the timer; el.mu is held. False if there is no other
// worker to kick (they stopped accepting meanwhile): this one accepts.
func (b *balancer) stepAside(el *listener) bool {
	if !b.seat.Kick() {
		return false
	}
	el.aside = true
	b.srv.poller.Ctl(unix.EPOLL_CTL_DEL, el.fd, 0)
	when := unix.NsecToTimespec(int64(asideFor))
	unix.TimerfdSettime(b.timer, 0, &unix.ItimerSpec{Value: when}, nil)
	return true
}

// fair tells whether the listener may accept one more connection.
func (b *balancer) fair(el *listener) bool {
	return b == nil || el.insist || b.seat.Fair()
}
