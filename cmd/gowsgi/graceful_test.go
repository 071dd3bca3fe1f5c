package main

// Graceful reloads, worker-count changes, recycling and TERM lose no
// request, even for clients that never retry: Python's http.client and
// requests, curl in a loop, load balancers' health checks.

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// strictLoad sends requests from clients that each keep one connection
// alive, as http.client does: a request that fails is a failure, never
// retried; a response with "Connection: close" (or a connection the server
// closed between responses, seen before the next request is written) makes
// the client open a new connection for its next request.
type strictLoad struct {
	addr    string
	path    string
	ok      atomic.Int64
	failed  atomic.Int64
	closes  atomic.Int64 // responses that said Connection: close
	mu      sync.Mutex
	errs    []string
	pids    map[string]int // answer bodies (worker PIDs), and how often
	stop    chan struct{}
	stopped sync.WaitGroup
}

func startStrictLoad(t *testing.T, addr, path string, clients int) *strictLoad {
	l := &strictLoad{addr: addr, path: path, stop: make(chan struct{}), pids: map[string]int{}}
	for range clients {
		l.stopped.Add(1)
		go l.client()
	}
	t.Cleanup(l.end)
	return l
}

func (l *strictLoad) client() {
	defer l.stopped.Done()
	var nc net.Conn
	var br *bufio.Reader
	defer func() {
		if nc != nil {
			nc.Close()
		}
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		if nc == nil {
			c, err := net.DialTimeout("tcp", l.addr, 10*time.Second)
			if err != nil {
				l.fail(fmt.Errorf("connect: %w", err))
				time.Sleep(10 * time.Millisecond)
				continue
			}
			nc, br = c, bufio.NewReader(c)
		}
		body, closed, err := l.exchange(nc, br)
		if err != nil {
			l.fail(err)
		} else {
			l.ok.Add(1)
			l.mu.Lock()
			l.pids[body]++
			l.mu.Unlock()
		}
		if err != nil || closed {
			if closed {
				l.closes.Add(1)
			}
			nc.Close()
			nc = nil
		}
	}
}

// exchange sends one request on the kept connection and reads its answer.
func (l *strictLoad) exchange(nc net.Conn, br *bufio.Reader) (string, bool, error) {
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, "GET "+l.path+" HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		return "", false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return string(b), resp.Close, err
}

func (l *strictLoad) fail(err error) {
	l.failed.Add(1)
	l.mu.Lock()
	l.errs = append(l.errs, err.Error())
	l.mu.Unlock()
}

func (l *strictLoad) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.stopped.Wait()
}

// waitServed waits until n more requests succeeded.
func (l *strictLoad) waitServed(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if l.ok.Load() >= target {
			return
		}
	}
	t.Fatalf("the load stalled at %d answers (%d failures): %v", l.ok.Load(), l.failed.Load(), l.errs)
}

// check ends the load and requires that no request failed.
func (l *strictLoad) check(t *testing.T) {
	t.Helper()
	l.end()
	if f := l.failed.Load(); f > 0 {
		t.Errorf("%d of %d requests failed: %v", f, f+l.ok.Load(), l.errs)
	}
	t.Logf("%d requests served, none failed; %d answers said Connection: close", l.ok.Load(), l.closes.Load())
}

func (l *strictLoad) workersSeen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pids)
}

// The scenario: -w 2 --threads 4 and eight kept-alive clients
// that never retry, through each way a worker goes away gracefully.
func TestGracefulLosesNothing(t *testing.T) {
	start := func(t *testing.T, args ...string) *testutil.Server {
		if !strings.HasPrefix(args[len(args)-1], "conformance:") {
			args = append(args, "conformance:pid")
		}
		args = append([]string{"-w", "2", "--threads", "4", "--pythonpath", "."}, args...)
		s := testutil.Start(t, testutil.Options{}, args...)
		s.WaitWorkers(2, 30*time.Second)
		return s
	}
	addr := func(s *testutil.Server) string { return strings.TrimPrefix(s.URL, "http://") }

	t.Run("HUP", func(t *testing.T) {
		s := start(t, "conformance:pid")
		first := s.WorkerPIDs()
		l := startStrictLoad(t, addr(s), "/", 8)
		l.waitServed(t, 200)
		s.Signal(syscall.SIGHUP)
		waitFor(t, "the old workers to be gone", func() bool {
			now := s.WorkerPIDs()
			return len(now) == 2 && !slices.Contains(now, first[0]) && !slices.Contains(now, first[1])
		})
		l.waitServed(t, 200)
		l.check(t)
		if l.closes.Load() == 0 {
			t.Error("no answer said Connection: close: the old workers' kept connections were not handed over")
		}
	})

	t.Run("TTIN-TTOU", func(t *testing.T) {
		s := start(t, "conformance:pid")
		l := startStrictLoad(t, addr(s), "/", 8)
		l.waitServed(t, 200)
		s.Signal(syscall.SIGTTIN)
		s.WaitWorkers(3, 30*time.Second)
		l.waitServed(t, 200)
		s.Signal(syscall.SIGTTOU)
		s.WaitWorkers(2, 30*time.Second)
		l.waitServed(t, 200)
		s.Signal(syscall.SIGTTOU)
		s.WaitWorkers(1, 30*time.Second)
		l.waitServed(t, 200)
		l.check(t)
	})

	t.Run("max-requests", func(t *testing.T) {
		s := start(t, "--max-requests", "150", "--max-requests-jitter", "30")
		l := startStrictLoad(t, addr(s), "/", 8)
		waitFor(t, "six workers to have answered", func() bool { return l.workersSeen() >= 6 })
		l.check(t)
	})

	t.Run("max-worker-memory", func(t *testing.T) {
		// conformance:leak keeps 4 MiB per request: each worker passes
		// 100 MB within some 20 requests and is replaced.
		s := start(t, "--max-worker-memory", "100", "conformance:leak")
		first := s.WorkerPIDs()
		l := startStrictLoad(t, addr(s), "/", 8)
		waitFor(t, "the first workers to be replaced", func() bool {
			now := s.WorkerPIDs()
			return !slices.Contains(now, first[0]) && !slices.Contains(now, first[1])
		})
		l.waitServed(t, 100)
		l.check(t)
	})

	// TERM to a server whose socket systemd holds, while a new server
	// serves the same socket: the old one's clients move to the new one.
	t.Run("TERM-systemd", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, _ := ln.(*net.TCPListener).File()
		address := ln.Addr().String()
		ln.Close()
		defer f.Close()
		activated := func() (*exec.Cmd, *testutil.Buffer) {
			cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, testutil.Binary(t),
				"-w", "2", "--threads", "4", "--pythonpath", ".", "conformance:pid")
			cmd.Dir = testutil.Testdata()
			cmd.Env = append(testutil.CleanEnv(), "LISTEN_FDS=1")
			cmd.ExtraFiles = []*os.File{f}
			out := new(testutil.Buffer)
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			return cmd, out
		}
		old, oldOut := activated()
		var newOut *testutil.Buffer
		defer func() {
			if t.Failed() {
				t.Logf("the first server's log:\n%s", oldOut.String())
				if newOut != nil {
					t.Logf("the second server's log:\n%s", newOut.String())
				}
			}
		}()
		waitFor(t, "the first server to boot its workers", func() bool { return strings.Count(oldOut.String(), "Booting worker") >= 2 })
		l := startStrictLoad(t, address, "/", 8)
		l.waitServed(t, 200)
		l.mu.Lock()
		oldPIDs := maps.Clone(l.pids)
		l.mu.Unlock()
		_, newOut = activated()
		// The socket is shared: new connections reach the new server's
		// workers once they accept.
		fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		waitFor(t, "the second server to answer", func() bool {
			resp, err := fresh.Get("http://" + address + "/")
			if err != nil {
				t.Errorf("while the second server starts: %v", err)
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, seen := oldPIDs[string(b)]
			return !seen
		})
		old.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- old.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("the first server did not stop on TERM:\n%s", oldOut.String())
		}
		l.waitServed(t, 200)
		l.check(t)
	})
}
