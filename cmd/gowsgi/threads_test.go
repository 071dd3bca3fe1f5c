package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// getConcurrently GETs url n times from clients goroutines at once and
// returns the idents the answers name, failing on any other answer.
func getConcurrently(t *testing.T, url string, n, clients int) map[uint64]int {
	t.Helper()
	var mu sync.Mutex
	idents := map[uint64]int{}
	var wg sync.WaitGroup
	jobs := make(chan int, n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := http.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var a struct{ Ident uint64 }
				if resp.StatusCode != 200 || json.Unmarshal(b, &a) != nil {
					t.Errorf("%s %s", resp.Status, b)
					return
				}
				mu.Lock()
				idents[a.Ident]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return idents
}

// A module-level sqlite3 connection works under the default flags, as
// under gunicorn's sync worker: the application is imported and every
// request served on one Python thread. So does one that a post_fork hook
// or post_worker_init hook of a gunicorn configuration opens: hooks run on
// that thread too.
func TestModuleLevelSQLite(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "-w", "2", "-c", "sqlite_hooks.py", "--pythonpath", ".", "sqlite_app:app")
	s.WaitWorkers(2, 30*time.Second)
	for _, path := range []string{"/", "/hook", "/init"} {
		idents := getConcurrently(t, s.URL+path, 200, 8)
		total := 0
		for _, n := range idents {
			total += n
		}
		// Two workers, one thread each.
		if total != 200 || len(idents) > 2 {
			t.Errorf("%s: %d answers from %d threads %v, want 200 from at most 2", path, total, len(idents), idents)
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", s.Log)
	}
}

// With several Python threads a worker gets a second Go processor even
// on one core (docs/deployment.md, How many workers and threads).
func TestProcessorsForThreads(t *testing.T) {
	for _, c := range []struct{ threads, want string }{{"1", "GOMAXPROCS=1"}, {"4", "GOMAXPROCS=2"}} {
		// On one CPU, as the benchmark runs it.
		s := testutil.Start(t, testutil.Options{Program: "taskset", NoBind: true}, "-c", "0", testutil.Binary(t),
			"-b", "127.0.0.1:0", "--log-level", "debug", "--threads", c.threads, "--pythonpath", ".", "sqlite_app:app")
		if !s.WaitLog("Go processors of the worker", 30*time.Second) || !strings.Contains(s.Log.String(), c.want) {
			t.Errorf("--threads %s on one CPU: want %s in\n%s", c.threads, c.want, s.Log)
		}
	}
}
