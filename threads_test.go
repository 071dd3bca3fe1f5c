package gowsgi

import (
	"testing"
	"time"
)

// gate controls conformance.gate_wait through applications of the same
// module with their own threads.
type gate struct {
	t      *testing.T
	openIt *target
	closer *target
	status *target
}

func newGate(t *testing.T) *gate {
	g := &gate{
		t:      t,
		openIt: serve(t, variant{engine: true}, Options{App: "conformance:gate_open"}),
		closer: serve(t, variant{engine: true}, Options{App: "conformance:gate_close"}),
		status: serve(t, variant{engine: true}, Options{App: "conformance:gate_waiting"}),
	}
	g.closer.get(t, "/")
	return g
}

func (g *gate) open() { g.openIt.get(g.t, "/") }

func (g *gate) waitWaiting(n int) {
	waitFor(g.t, "requests at the gate", func() bool {
		var got int
		g.status.getJSON(g.t, "/", &got)
		return got == n
	})
}

type result struct {
	status int
	body   string
	retry  string
}

func (tg *target) async(t *testing.T) chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := tg.client.Get(tg.url + "/")
		if err != nil {
			ch <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b := make([]byte, 100)
		n, _ := resp.Body.Read(b)
		ch <- result{resp.StatusCode, string(b[:n]), resp.Header.Get("Retry-After")}
	}()
	return ch
}

// With every Python thread busy and the queue full, a request is answered
// 503 with Retry-After at once; the queued one is served later.
func TestQueueFull(t *testing.T) {
	eachTarget(t, "gate_wait", Options{Threads: 1, QueueSize: 1, QueueTimeout: -1}, func(t *testing.T, tg *target) {
		g := newGate(t)
		running := tg.async(t)
		g.waitWaiting(1)
		queued := tg.async(t)
		waitFor(t, "a queued request", func() bool { return tg.app.pool.waiting.Load() == 1 })
		refused := tg.async(t)
		if r := <-refused; r.status != 503 || r.retry == "" {
			t.Errorf("with the queue full: %+v, want 503 with Retry-After", r)
		}
		g.open()
		for _, ch := range []chan result{running, queued} {
			if r := <-ch; r.status != 200 || r.body != "opened" {
				t.Errorf("once the gate opened: %+v", r)
			}
		}
	})
}

// A request that waits longer than QueueTimeout for a thread gets 503.
func TestQueueTimeout(t *testing.T) {
	eachTarget(t, "gate_wait", Options{Threads: 1, QueueTimeout: 50 * time.Millisecond}, func(t *testing.T, tg *target) {
		g := newGate(t)
		running := tg.async(t)
		g.waitWaiting(1)
		if r := <-tg.async(t); r.status != 503 || r.retry == "" {
			t.Errorf("past the queue timeout: %+v, want 503 with Retry-After", r)
		}
		g.open()
		if r := <-running; r.status != 200 {
			t.Errorf("the running request: %+v", r)
		}
	})
}
