package balance

import (
	"testing"

	"golang.org/x/sys/unix"
)

func board(t *testing.T, n int) (*Host, []*Seat) {
	t.Helper()
	h, err := NewHost(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	var seats []*Seat
	for range n {
		s, err := h.Seat()
		if err != nil {
			t.Fatal(err)
		}
		seats = append(seats, s)
	}
	return h, seats
}

// kicked reads s's eventfd: whether another seat asked it to take
// connections since the last look.
func kicked(s *Seat) bool {
	var buf [8]byte
	n, _ := unix.Read(s.KickFD(), buf[:])
	return n == 8
}

func TestFairAgainstLiveSeatsOnly(t *testing.T) {
	h, s := board(t, 3)
	a, b, c := s[0], s[1], s[2]
	a.Accepting()
	a.Opened()
	if !a.Fair() {
		t.Error("alone among live seats, a must be fair")
	}
	b.Accepting()
	if a.Fair() {
		t.Error("a has 1, b has 0: a must not take more")
	}
	if !b.Fair() {
		t.Error("b, the least loaded, must be fair")
	}
	// a asks the least loaded: b, not c (not accepting).
	if !a.Kick() || !kicked(b) || kicked(c) {
		t.Error("a's kick must reach b only")
	}
	b.Opened()
	if !a.Fair() || !b.Fair() {
		t.Error("level counts: both fair")
	}
	b.Leaving()
	b.Closed()
	if !a.Fair() {
		t.Error("b stopped accepting: it must not hold a back")
	}
	c.Accepting()
	h.Retire(2)
	if !a.Fair() || a.Kick() {
		t.Error("c retired: a has nobody to defer to or kick")
	}
	h.Free(2)
	if c.mine.Load() != 0 {
		t.Error("a freed slot must be clear for the next worker")
	}
	if got := h.Take(); got != 2 {
		t.Errorf("the freed slot is handed out again: got %d, want 2", got)
	}
}

func TestTakeRunsOut(t *testing.T) {
	h, _ := board(t, 2)
	if got := h.Take(); got != -1 {
		t.Errorf("a third seat on a board of two: %d, want -1", got)
	}
	if _, err := Join(nil, 0); err == nil {
		t.Error("Join without files must fail")
	}
}
