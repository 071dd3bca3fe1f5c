package gowsgi

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/balance"
)

// seats makes a balance board of two slots and joins both, as two
// workers would.
func seats(t *testing.T) (mine, peer *balance.Seat) {
	t.Helper()
	host, err := balance.NewHost(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Close)
	join := func() *balance.Seat {
		s, err := host.Seat()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return join(), join()
}

// A worker with more connections than another steps aside for it, but a
// connection is never left waiting for a worker that does not take it
// (stuck, or busy in a long request with its only thread): once aside
// for a moment, the worker accepts whatever the counts. The peer here
// shows as accepting with no connections and never accepts: every
// connection must still be served, by this worker, and the peer must
// have been asked to take them.
func TestBalanceStuckPeerDelaysOnly(t *testing.T) {
	mine, peer := seats(t)
	peer.Accepting()
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	// Kept connections must not time out meanwhile (the counts would fall).
	addr := serveEngine(t, app, func(s *Server) { s.seat, s.KeepAlive = mine, time.Minute })
	for i := range 20 {
		c := dial(t, addr) // kept open: the counts grow
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if got := statusOf(t, c); got != 200 {
			t.Fatalf("connection %d: %d", i, got)
		}
	}
	var buf [8]byte
	if n, err := unix.Read(peer.KickFD(), buf[:]); n != 8 || err != nil {
		t.Errorf("the peer was never asked to take a connection (read %d, %v)", n, err)
	}
}

// With a peer that has more connections, nothing waits and nobody is
// asked: the least loaded worker takes what comes.
func TestBalanceLeastLoadedTakes(t *testing.T) {
	mine, peer := seats(t)
	peer.Accepting()
	for range 30 {
		peer.Opened()
	}
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	addr := serveEngine(t, app, func(s *Server) { s.seat, s.KeepAlive = mine, time.Minute })
	for i := range 20 {
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if got := statusOf(t, c); got != 200 {
			t.Fatalf("connection %d: %d", i, got)
		}
	}
	var buf [8]byte
	if n, _ := unix.Read(peer.KickFD(), buf[:]); n > 0 {
		t.Errorf("the peer, with more connections, was asked to take one")
	}
}
