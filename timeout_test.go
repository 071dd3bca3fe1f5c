package gowsgi

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/logging"
)

// A request looping in Python past the timeout gets 504 and its thread is
// interrupted: with a single Python thread, the next request is served.
func TestTimeoutInterruptsPythonLoop(t *testing.T) {
	run(t, "spin", Options{Threads: 1, Timeout: 300 * time.Millisecond}, func(t *testing.T, tg *target) {
		for i := 0; i < 2; i++ {
			resp, body := tg.get(t, "/")
			if resp.StatusCode != 504 || body != "Gateway Timeout\n" {
				t.Fatalf("request %d: %s %q, want 504", i+1, resp.Status, body)
			}
		}
		waitFor(t, "the traceback of the interruption", func() bool {
			return strings.Count(tg.log.String(), "gowsgi.RequestTimeout") == 2
		})
		if !strings.Contains(tg.log.String(), `request exceeded the timeout; answered 504 and interrupting its Python thread request="GET /"`) {
			t.Errorf("no timeout line naming the request in the log:\n%s", tg.log)
		}
	}, plainModes...)
	// After the head went out the response is cut off, and the log says
	// so, not that a 504 was answered.
	run(t, "spin_after_head", Options{Threads: 1, Timeout: 300 * time.Millisecond}, func(t *testing.T, tg *target) {
		resp, err := tg.client.Get(tg.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body) // cut off: an error, or (uwsgi behind nginx) the end
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s, want the 200 the application started", resp.Status)
		}
		waitFor(t, "the timeout line", func() bool {
			return strings.Contains(tg.log.String(), `request exceeded the timeout; cut its response off (its head had gone out) and interrupting its Python thread request="GET /"`)
		})
		if strings.Contains(tg.log.String(), "answered 504") {
			t.Errorf("the log says 504 for a response whose 200 head had gone out:\n%s", tg.log)
		}
	}, plainModes...)
}

// A timeout posted while the request runs no Python code (it waits in a
// read in C that its body's iteration makes) is never raised in it: it
// must not be raised in the next request on that thread either.
func TestTimeoutUndeliveredDoesNotReachTheNextRequest(t *testing.T) {
	run(t, "late_in_c", Options{Threads: 1, Timeout: 300 * time.Millisecond}, func(t *testing.T, tg *target) {
		resp, _ := tg.get(t, "/late?0.8")
		if resp.StatusCode != 504 {
			t.Fatalf("/late: %s, want 504", resp.Status)
		}
		waitFor(t, "the timeout line", func() bool {
			return strings.Contains(tg.log.String(), "request exceeded the timeout")
		})
		// The one thread takes these once the read returned.
		for i := 0; i < 3; i++ {
			if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body != "fine" {
				t.Fatalf("request %d after the timeout: %s %q, want 200 \"fine\"\n%s", i+1, resp.Status, body, tg.log)
			}
		}
		if strings.Contains(tg.log.String(), "gowsgi.RequestTimeout") {
			t.Errorf("the timeout was raised in Python:\n%s", tg.log)
		}
	}, plainModes...)
}

// A request blocked in C cannot be interrupted: it gets 504, the other
// threads go on serving, and the App asks to be replaced.
func TestTimeoutStuckThreadAsksForRecycling(t *testing.T) {
	for _, engine := range []bool{true, false} {
		var mu sync.Mutex
		var reasons []string
		opts := Options{App: "conformance:sleep_forever", Threads: 2, Timeout: 300 * time.Millisecond,
			Recycle: func(reason string) { mu.Lock(); reasons = append(reasons, reason); mu.Unlock() }}
		tg := serveStuck(t, engine, opts)
		if resp, _ := tg.get(t, "/"); resp.StatusCode != 504 {
			t.Fatalf("%s: %s, want 504\n%s", tg.name, resp.Status, tg.log)
		}
		waitFor(t, "a request for a replacement", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(reasons) == 1 && strings.Contains(reasons[0], "stuck")
		})
		// One thread is stuck for good; the other serves a second request
		// (504 too, since this application always sleeps) promptly.
		if resp, _ := tg.get(t, "/"); resp.StatusCode != 504 {
			t.Errorf("%s: the remaining thread: %s", tg.name, resp.Status)
		}
	}
}

// serveStuck serves an application whose threads get stuck for good: its
// server and App are not waited for at the end (a worker process would be
// replaced and exit).
func serveStuck(t *testing.T, engine bool, opts Options) *target {
	log, errs := &syncBuffer{}, &syncBuffer{}
	opts.Logger = slog.New(logging.NewHandler(log, slog.LevelDebug))
	opts.Errors = errs
	app, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hs *http.Server
	if engine {
		go (&Server{App: app}).Serve(ln)
	} else {
		hs = &http.Server{Handler: app}
		go hs.Serve(ln)
	}
	t.Cleanup(func() {
		ln.Close()
		if hs != nil {
			hs.Close()
		}
		app.core.StopWatchdog()
	})
	return &target{name: fmt.Sprint("engine=", engine), engine: engine, app: app, url: "http://" + ln.Addr().String(),
		addr: ln.Addr().String(), log: log, errors: errs, client: &http.Client{Timeout: 30 * time.Second}}
}

// Waiting for a slow client does not count against the timeout. (HTTP
// only: nginx reads the whole body before it passes a request to a
// gateway, which never waits for the client.)
func TestTimeoutIgnoresClientWaits(t *testing.T) {
	run(t, "input_hash", Options{Timeout: 200 * time.Millisecond}, func(t *testing.T, tg *target) {
		pr, pw := ioPipe()
		go func() {
			for i := 0; i < 5; i++ {
				pw.Write(make([]byte, 1000))
				time.Sleep(100 * time.Millisecond)
			}
			pw.Close()
		}()
		resp, body := tg.do(t, "POST", "/", pr)
		if resp.StatusCode != 200 || !strings.Contains(body, `"length": 5000`) {
			t.Errorf("a slow upload over half a second: %s %q", resp.Status, body)
		}
	}, httpModes...)
}

// MaxRequests makes the App ask for a replacement once, and go on.
func TestMaxRequests(t *testing.T) {
	var mu sync.Mutex
	var reasons []string
	tg := serve(t, variant{engine: true}, Options{App: "conformance:hello", MaxRequests: 3,
		Recycle: func(reason string) { mu.Lock(); reasons = append(reasons, reason); mu.Unlock() }})
	for i := 0; i < 5; i++ {
		if resp, _ := tg.get(t, "/"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i+1, resp.Status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || !strings.Contains(reasons[0], "3 requests") || tg.app.Served() != 5 {
		t.Errorf("recycle calls %q after %d requests", reasons, tg.app.Served())
	}
}
