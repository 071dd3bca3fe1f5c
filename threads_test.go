package gowsgi

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
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
	run(t, "gate_wait", Options{Threads: 1, QueueSize: 1, QueueTimeout: -1}, func(t *testing.T, tg *target) {
		g := newGate(t)
		running := tg.async(t)
		g.waitWaiting(1)
		queued := tg.async(t)
		waitFor(t, "a queued request", func() bool { return tg.app.core.Waiting() == 1 })
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
	run(t, "gate_wait", Options{Threads: 1, QueueTimeout: 50 * time.Millisecond}, func(t *testing.T, tg *target) {
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

// identityAnswer is what threadapp's applications say of their thread.
type identityAnswer struct {
	Ident  uint64  `json:"ident"`
	Loader uint64  `json:"loader"`
	Count  int     `json:"count"`
	Rows   *int    `json:"rows"`
	Error  *string `json:"error"`
	Main   bool    `json:"main"`
	Met    bool    `json:"met"`
}

// getEach runs n GETs of path from clients goroutines at once and returns
// the answers.
func (tg *target) getEach(t *testing.T, path string, n, clients int) []identityAnswer {
	t.Helper()
	answers := make(chan identityAnswer, n)
	failures := make(chan string, n)
	jobs := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := tg.client.Get(tg.url + path)
				if err != nil {
					failures <- err.Error()
					continue
				}
				var a identityAnswer
				err = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					failures <- fmt.Sprintf("%s: %v", resp.Status, err)
					continue
				}
				answers <- a
			}
		}()
	}
	wg.Wait()
	close(answers)
	close(failures)
	for f := range failures {
		t.Errorf("GET %s: %s\nlog:\n%s", path, f, tg.log)
		break
	}
	var out []identityAnswer
	for a := range answers {
		out = append(out, a)
	}
	return out
}

// With one Python thread, the application is imported on it and every
// request runs on it, whichever front end and connection brought it: a
// sqlite3 connection made at load time works (it refuses other threads),
// threading.get_ident() never changes, and a threading.local counts every
// request. It is Python's main thread, as under gunicorn's sync worker.
func TestOneThreadIsOneThread(t *testing.T) {
	run(t, "threadapp:identity()", Options{Threads: 1}, func(t *testing.T, tg *target) {
		const n = 300
		answers := tg.getEach(t, "/", n, 8)
		if len(answers) != n {
			t.Fatalf("%d answers of %d", len(answers), n)
		}
		counts := map[int]bool{}
		for _, a := range answers {
			if a.Ident != a.Loader {
				t.Fatalf("a request ran on thread %d, the application was loaded on %d", a.Ident, a.Loader)
			}
			if a.Error != nil {
				t.Fatalf("the sqlite3 connection of the loading thread failed: %s", *a.Error)
			}
			counts[a.Count] = true
		}
		// One thread local saw every request: its counts are 1..n.
		for i := 1; i <= n; i++ {
			if !counts[i] {
				t.Fatalf("the thread local's counts lack %d: %d distinct counts for %d requests", i, len(counts), n)
			}
		}
	})
}

// With N threads, the requests run on the same N threads for the App's
// life: the first of them loaded the application, and each keeps its
// thread locals.
func TestNThreadsAreTheSameN(t *testing.T) {
	const threads = 4
	run(t, "threadapp:together()", Options{Threads: threads}, func(t *testing.T, tg *target) {
		idents := map[uint64]int{} // ident: the highest count seen
		var loader uint64
		const rounds = 25
		for round := 0; round < rounds; round++ {
			seen := map[uint64]bool{}
			for _, a := range tg.getEach(t, fmt.Sprintf("/?%d", threads), threads, threads) {
				if !a.Met {
					t.Fatalf("round %d: %d requests never ran at once on %d threads (%s)", round, threads, threads, tg.app.core.PoolState())
				}
				seen[a.Ident] = true
				idents[a.Ident] = max(idents[a.Ident], a.Count)
				loader = a.Loader
			}
			if len(seen) != threads {
				t.Fatalf("round %d: %d threads ran %d requests at once", round, len(seen), threads)
			}
		}
		if len(idents) != threads {
			t.Errorf("%d distinct threads over %d rounds, want the same %d", len(idents), rounds, threads)
		}
		if _, ok := idents[loader]; !ok {
			t.Errorf("the loading thread %d served no request; threads %v", loader, idents)
		}
		total := 0
		for _, c := range idents {
			total += c
		}
		if total != threads*rounds {
			t.Errorf("the threads' locals counted %d requests of %d", total, threads*rounds)
		}
	})
}

// With one thread, no two requests' Python code overlaps, close() of the
// response included (it sleeps while other clients send requests), and
// close() runs on the request's thread.
func TestCloseRunsBeforeTheNextRequest(t *testing.T) {
	run(t, "threadapp:overlap()", Options{Threads: 1}, func(t *testing.T, tg *target) {
		var wg sync.WaitGroup
		for c := 0; c < 6; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body != "ok" {
						t.Errorf("%s %q", resp.Status, body)
					}
				}
			}()
		}
		wg.Wait()
		var report struct {
			Most         int `json:"most"`
			Requests     int `json:"requests"`
			ForeignClose int `json:"foreign_close"`
		}
		tg.getJSON(t, "/report", &report)
		if report.Requests != 30 || report.Most != 1 || report.ForeignClose != 0 {
			t.Errorf("%+v: want 30 requests, never more than 1 at once, close() on the request's thread", report)
		}
	})
}

// A panic in the server's own code (here made on purpose) costs the
// exchange it happened in, never the process: it is logged with its
// stack, the client gets a 500 when nothing was sent yet, and the next
// request is served. While reading a request, on the front end's side:
func TestPanicReadingARequest(t *testing.T) {
	run(t, "hello", Options{}, func(t *testing.T, tg *target) {
		testPanics(t, tg, &core.AfterEnviron)
	})
}

// And while sending a response, on the Python thread.
func TestPanicSendingAResponse(t *testing.T) {
	run(t, "hello", Options{}, func(t *testing.T, tg *target) {
		testPanics(t, tg, &core.BeforeFinish)
	})
}

func testPanics(t *testing.T, tg *target, hook *core.TestHook) {
	hook.Set(func(r *core.Request) {
		if r.App() == tg.app.core && strings.Contains(r.Describe(), "panic") {
			panic("a deliberate panic")
		}
	})
	t.Cleanup(func() { hook.Set(nil) })
	resp, err := tg.client.Get(tg.url + "/?panic")
	// Behind wsgiref.validate the response is an iterator, which goes out
	// as the application produces it: sent before the panic, it stands.
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 500 && !(tg.validated && resp.StatusCode == 200 && hook == &core.BeforeFinish) {
			t.Errorf("the broken exchange: %s, want 500 (or the connection closed)", resp.Status)
		}
	}
	if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body == "" {
		t.Errorf("after the panic: %s %q", resp.Status, body)
	}
	waitFor(t, "the panic in the log", func() bool {
		return strings.Contains(tg.log.String(), "a deliberate panic") && strings.Contains(tg.log.String(), "goroutine")
	})
}

// A request queued just as the free thread goes to wait in the Poller
// wakes it: the thread says it waits before it looks at the queue, so the
// front end that queues sees it waiting (a lost wake-up here left a
// request, and its client, waiting for ever).
func TestQueuedAsTheThreadGoesToWait(t *testing.T) {
	tg := serve(t, variant{}, Options{App: "conformance:hello"}) // net/http: its goroutine queues and waits
	type result struct {
		status int
		err    error
	}
	second := make(chan result, 1)
	var fired atomic.Bool
	core.BeforeWait.Set(func(*core.Request) {
		if !fired.CompareAndSwap(false, true) {
			return
		}
		go func() {
			resp, err := tg.client.Get(tg.url + "/")
			if err != nil {
				second <- result{err: err}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			second <- result{status: resp.StatusCode}
		}()
		// The thread goes to wait only once the request is queued.
		for deadline := time.Now().Add(10 * time.Second); tg.app.core.Waiting() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	})
	t.Cleanup(func() { core.BeforeWait.Set(nil) })
	// The first request's thread, done with it, goes to wait: the hook
	// queues the second then.
	if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body == "" {
		t.Fatalf("first request: %s %q", resp.Status, body)
	}
	select {
	case r := <-second:
		if r.err != nil || r.status != 200 {
			t.Fatalf("the request queued as the thread went to wait: %d %v", r.status, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the request queued as the thread went to wait was not served in 30 s (%s)", tg.app.core.PoolState())
	}
	if !fired.Load() {
		t.Fatal("the thread never went to wait after the first request")
	}
}

// After a long run of short calls, when the backstop looks seldom
// (quietLooks), a call that then stays in Python still gets a parked
// thread woken to read and serve the requests that come meanwhile: they
// are answered while it runs, not after it.
func TestLongCallAfterShortOnesIsRescued(t *testing.T) {
	tg := serve(t, variant{engine: true}, Options{App: "conformance:sleep", Threads: 2})
	for i := 0; i < 300; i++ {
		if resp, body := tg.get(t, "/?0"); resp.StatusCode != 200 {
			t.Fatalf("short call %d: %s %q", i, resp.Status, body)
		}
	}
	slow := make(chan string, 1)
	go func() {
		resp, err := tg.client.Get(tg.url + "/?3")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	waitFor(t, "the long call to start", func() bool { return strings.Contains(tg.errors.String(), "sleeping 3") })
	if resp, body := tg.get(t, "/?0"); resp.StatusCode != 200 || body != "slept 0" {
		t.Fatalf("beside the long call: %s %q", resp.Status, body)
	}
	select {
	case got := <-slow:
		t.Errorf("the short request was answered only after the long call (%q)", got)
	default:
	}
	if got := <-slow; got != "slept 3" {
		t.Errorf("the long call: %q", got)
	}
}
