package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// load sends requests from several clients until stopped, counting
// answers and failures. Half the clients keep their connections alive,
// half open one per request.
type load struct {
	url     string
	ok      atomic.Int64
	failed  atomic.Int64
	mu      sync.Mutex
	errs    []string
	bodies  map[string]int // answer bodies seen, and how often
	stop    chan struct{}
	stopped sync.WaitGroup
}

func startLoad(t *testing.T, url string, clients int) *load {
	l := &load{url: url, stop: make(chan struct{}), bodies: map[string]int{}}
	for i := 0; i < clients; i++ {
		keepAlive := i%2 == 0
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive}}
		l.stopped.Add(1)
		go func() {
			defer l.stopped.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %s", resp.Status)
					}
					if err == nil {
						l.ok.Add(1)
						l.mu.Lock()
						l.bodies[string(b)]++
						l.mu.Unlock()
						continue
					}
				}
				l.failed.Add(1)
				l.mu.Lock()
				l.errs = append(l.errs, fmt.Sprintf("%v (keep-alive %v)", err, keepAlive))
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.stopped.Wait()
}

// waitServed waits until n more requests succeeded.
func (l *load) waitServed(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if l.ok.Load() >= target {
			return
		}
	}
	t.Fatalf("the load stalled at %d answers (%d failures): %v", l.ok.Load(), l.failed.Load(), l.errs)
}

func (l *load) check(t *testing.T, maxFailures int64) {
	t.Helper()
	l.end()
	if f := l.failed.Load(); f > maxFailures {
		t.Errorf("%d of %d requests failed (at most %d allowed): %v", f, f+l.ok.Load(), maxFailures, l.errs)
	}
	t.Logf("%d requests served, %d failed", l.ok.Load(), l.failed.Load())
}

// A worker killed with SIGKILL is replaced at once; only the requests it
// was serving fail.
func TestWorkerKilled(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "-w", "2", "--threads", "2", "--pythonpath", ".", "conformance:pid")
	workers := s.WaitWorkers(2, 30*time.Second)
	l := startLoad(t, s.URL+"/", 8)
	l.waitServed(t, 200)
	// Both serve (one may still have been importing the application).
	waitFor(t, "both workers to answer", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.bodies[strconv.Itoa(workers[0])] > 0 && l.bodies[strconv.Itoa(workers[1])] > 0
	})
	syscall.Kill(workers[0], syscall.SIGKILL)
	waitFor(t, "a replacement worker", func() bool {
		now := s.WorkerPIDs()
		return len(now) == 2 && !slices.Contains(now, workers[0])
	})
	l.waitServed(t, 200)
	// At most one request per client was in flight on the killed worker.
	l.check(t, 8)
	if !s.WaitLog("Worker exited unexpectedly", 10*time.Second) {
		t.Errorf("the master did not log the death:\n%s", s.Log)
	}
}

// HUP reloads: new workers import the changed code, the old ones finish
// their requests; not one request of a steady load fails.
func TestReloadWithChangedCode(t *testing.T) {
	dir := t.TempDir()
	write := func(version string) {
		app := "VERSION = " + strconv.Quote(version) + "\n\n" +
			"def application(environ, start_response):\n" +
			"    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
			"    return [VERSION.encode()]\n"
		if err := os.WriteFile(filepath.Join(dir, "versioned.py"), []byte(app), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	s := testutil.Start(t, testutil.Options{}, "-w", "2", "--chdir", dir, "versioned")
	old := s.WaitWorkers(2, 30*time.Second)
	l := startLoad(t, s.URL+"/", 8)
	l.waitServed(t, 200)
	write("two")
	s.Signal(syscall.SIGHUP)
	waitFor(t, "new workers", func() bool {
		now := s.WorkerPIDs()
		return len(now) == 2 && !slices.Contains(now, old[0]) && !slices.Contains(now, old[1])
	})
	l.mu.Lock()
	before := l.bodies["two"]
	l.mu.Unlock()
	l.waitServed(t, 200)
	l.check(t, 0)
	if l.bodies["two"] <= before || l.bodies["one"] == 0 {
		t.Errorf("answers seen: %v", l.bodies)
	}
}

// TTIN adds a worker, TTOU removes one; the load does not notice.
func TestWorkerCount(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "-w", "2", "--pythonpath", ".", "conformance:pid")
	s.WaitWorkers(2, 30*time.Second)
	l := startLoad(t, s.URL+"/", 6)
	l.waitServed(t, 100)
	s.Signal(syscall.SIGTTIN)
	if n := len(s.WaitWorkers(3, 30*time.Second)); n != 3 {
		t.Fatalf("after TTIN: %d workers", n)
	}
	l.waitServed(t, 100)
	// One at a time: a signal sent again before the first was handled
	// counts once.
	s.Signal(syscall.SIGTTOU)
	if n := len(s.WaitWorkers(2, 30*time.Second)); n != 2 {
		t.Fatalf("after TTOU: %d workers", n)
	}
	s.Signal(syscall.SIGTTOU)
	if n := len(s.WaitWorkers(1, 30*time.Second)); n != 1 {
		t.Fatalf("after TTOU twice: %d workers", n)
	}
	l.waitServed(t, 100)
	l.check(t, 0)
}

// --max-requests replaces workers without dropping a request.
func TestMaxRequestsRecycling(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "-w", "2", "--max-requests", "100", "--max-requests-jitter", "20",
		"--pythonpath", ".", "conformance:pid")
	first := s.WaitWorkers(2, 30*time.Second)
	l := startLoad(t, s.URL+"/", 6)
	// Workers keep being replaced under the load, so their number is
	// often above 2 (one booting, one retiring): wait for the first ones
	// to be gone.
	waitFor(t, "the first workers to be replaced", func() bool {
		now := s.WorkerPIDs()
		return !slices.Contains(now, first[0]) && !slices.Contains(now, first[1])
	})
	l.waitServed(t, 200)
	l.check(t, 0)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bodies) < 4 {
		t.Errorf("answers came from %d workers; recycling should have used at least 4: %v", len(l.bodies), l.bodies)
	}
}

// A worker past --max-worker-memory is replaced without dropping a
// request.
func TestMemoryCeiling(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--max-worker-memory", "100", "--pythonpath", ".", "conformance:leak")
	first := s.Worker()
	var fails int
	for i := 0; i < 200 && slices.Contains(s.WorkerPIDs(), first); i++ {
		resp, err := http.Get(s.URL + "/")
		if err != nil || resp.StatusCode != 200 {
			fails++
			continue
		}
		resp.Body.Close()
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "the leaking worker to be replaced", func() bool {
		pids := s.WorkerPIDs()
		return len(pids) == 1 && pids[0] != first
	})
	if fails > 0 {
		t.Errorf("%d requests failed", fails)
	}
	if !s.WaitLog("above --max-worker-memory", 10*time.Second) {
		t.Errorf("no memory line in the log:\n%s", s.Log)
	}
}

// A hung application (a loop in Python, or blocked in C for an hour) is
// answered 504 within the timeout, and the server goes on serving.
func TestHungApplication(t *testing.T) {
	for _, app := range []string{"spin", "sleep_forever"} {
		t.Run(app, func(t *testing.T) {
			s := testutil.Start(t, testutil.Options{}, "--timeout", "1", "--threads", "2", "--graceful-timeout", "2",
				"--pythonpath", ".", "conformance:"+app)
			first := s.Worker()
			start := time.Now()
			status, body := cliGet(t, s.URL+"/")
			if status != 504 || body != "Gateway Timeout\n" || time.Since(start) > 20*time.Second {
				t.Fatalf("got %d %q after %v", status, body, time.Since(start))
			}
			// The server still answers (504 again: this application
			// always hangs) while a stuck worker is replaced.
			if status, _ := cliGet(t, s.URL+"/"); status != 504 {
				t.Errorf("second request: %d", status)
			}
			if app == "sleep_forever" {
				waitFor(t, "the stuck worker to be replaced", func() bool {
					pids := s.WorkerPIDs()
					return len(pids) >= 1 && !slices.Contains(pids, first)
				})
			}
		})
	}
}

// Under systemd socket activation gowsgi serves the sockets it is given
// and tells systemd it is ready.
func TestSystemdSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := ln.(*net.TCPListener).File()
	ln.Close()
	notify := filepath.Join(t.TempDir(), "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// LISTEN_PID names the process itself, as systemd sets it after fork.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, testutil.Binary(t), "--pythonpath", ".", "conformance:hello")
	cmd.Dir = testutil.Testdata()
	cmd.Env = append(testutil.CleanEnv(), "LISTEN_FDS=1", "NOTIFY_SOCKET="+notify)
	cmd.ExtraFiles = []*os.File{f}
	var out testutil.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	msg := make([]byte, 256)
	n, err := nc.Read(msg)
	if err != nil || !strings.Contains(string(msg[:n]), "READY=1") {
		t.Fatalf("no READY=1 from sd_notify: %q %v\n%s", msg[:n], err, out.String())
	}
	addr := strings.TrimPrefix(strings.Fields(strings.SplitN(out.String(), "Listening at: ", 2)[1])[0], "http://")
	if _, body := cliGet(t, "http://"+addr+"/"); body != "Hello, world!" {
		t.Errorf("on the activated socket: %q\n%s", body, out.String())
	}
	if !strings.Contains(out.String(), "socket activation") {
		t.Errorf("the log does not mention socket activation:\n%s", out.String())
	}
}

// unix:PATH binds a Unix socket with --socket-mode, removed at exit.
func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	s := testutil.Launch(t, testutil.Options{NoBind: true}, "-b", "unix:"+path, "--socket-mode", "600",
		"--pythonpath", ".", "conformance:environ")
	if !s.WaitLog("Listening at: unix:"+path, 30*time.Second) {
		t.Fatalf("not listening:\n%s", s.Log)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v %v", fi, err)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /u HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	conn.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"PATH_INFO": "/u"`) || !strings.Contains(string(body), `"REMOTE_ADDR": ""`) {
		t.Errorf("over the Unix socket: %s %s", resp.Status, body)
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file outlived the server: %v", err)
	}
}

// --pid writes the master's PID and removes it at exit; --user switches
// the workers to another user after binding.
func TestPidFileAndUser(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "gowsgi.pid")
	args := []string{"--pid", pidFile, "--pythonpath", ".", "conformance:hello"}
	asRoot := os.Geteuid() == 0
	if asRoot {
		args = append([]string{"--user", "nobody"}, args...)
	}
	s := testutil.Start(t, testutil.Options{}, args...)
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(s.PID()) {
		t.Fatalf("pid file %q (%v), master %d", b, err, s.PID())
	}
	if asRoot {
		if _, body := cliGet(t, s.URL+"/"); body != "Hello, world!" {
			t.Errorf("as nobody: %q\n%s", body, s.Log)
		}
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Worker()))
		nobody := "65534"
		if !strings.Contains(string(status), "Uid:\t"+nobody+"\t") {
			t.Errorf("the worker does not run as nobody:\n%s", status)
		}
		master, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID()))
		if !strings.Contains(string(master), "Uid:\t0\t") {
			t.Errorf("the master should stay root (it removes the pid file):\n%s", master)
		}
	}
	s.Stop()
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file outlived the server: %v", err)
	}
}

// A SIGTERM the moment the server says it listens, its workers still
// starting, stops it gracefully: exit status 0, the pid file removed. The
// master subscribes to its signals before binding, not when it begins to
// supervise.
func TestTermDuringStartUp(t *testing.T) {
	for i := 0; i < 5; i++ {
		pidFile := filepath.Join(t.TempDir(), "gowsgi.pid")
		s := testutil.Launch(t, testutil.Options{}, "--pid", pidFile,
			"--pythonpath", ".", "conformance:hello")
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !strings.Contains(s.Log.String(), "Listening at"); {
			time.Sleep(time.Millisecond)
		}
		s.Signal(syscall.SIGTERM)
		if code := s.Wait(30 * time.Second); code != 0 {
			t.Fatalf("SIGTERM during start-up: exit status %d, want 0:\n%s", code, s.Log)
		}
		if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
			t.Fatalf("the pid file outlived the server: %v", err)
		}
	}
}

// USR1 reopens the log files, so rotation can move them away.
func TestReopenLogs(t *testing.T) {
	dir := t.TempDir()
	access := filepath.Join(dir, "access.log")
	s := testutil.Start(t, testutil.Options{}, "--access-logfile", access, "--pythonpath", ".", "conformance:hello")
	cliGet(t, s.URL+"/first")
	waitFor(t, "the first access line", func() bool { b, _ := os.ReadFile(access); return strings.Contains(string(b), "/first") })
	if err := os.Rename(access, access+".1"); err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGUSR1)
	// Until the worker has reopened, lines still go to the rotated file.
	waitFor(t, "a new access log", func() bool {
		cliGet(t, s.URL+"/second")
		b, _ := os.ReadFile(access)
		return strings.Contains(string(b), "/second")
	})
	cliGet(t, s.URL+"/third")
	waitFor(t, "the line of /third", func() bool { b, _ := os.ReadFile(access); return strings.Contains(string(b), "/third") })
	if b, _ := os.ReadFile(access + ".1"); strings.Contains(string(b), "/third") || !strings.Contains(string(b), "/first") {
		t.Errorf("the rotated file, after the reopen:\n%s", b)
	}
}

// SIGQUIT stops at once, without waiting for requests.
func TestQuit(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--pythonpath", ".", "conformance:sleep")
	go http.Get(s.URL + "/?30")
	if !s.WaitLog("sleeping 30", 10*time.Second) {
		t.Fatalf("the request did not start:\n%s", s.Log)
	}
	s.Signal(syscall.SIGQUIT)
	if code := s.Wait(10 * time.Second); code < 0 {
		t.Errorf("still running 10 s after SIGQUIT")
	}
}

// waitFor polls cond for up to 60 seconds (the race detector on a busy machine makes Python slow).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// wsgi.multiprocess tells the application whether other processes serve
// it too.
func TestMultiprocess(t *testing.T) {
	for _, c := range []struct {
		workers string
		want    bool
	}{{"1", false}, {"2", true}} {
		s := testutil.Start(t, testutil.Options{}, "-w", c.workers, "--pythonpath", ".", "conformance:environ")
		_, body := cliGet(t, s.URL+"/")
		var env map[string]any
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("-w %s: %v: %q", c.workers, err, body)
		}
		if env["wsgi.multiprocess"] != c.want {
			t.Errorf("-w %s: wsgi.multiprocess is %v", c.workers, env["wsgi.multiprocess"])
		}
		s.Stop()
	}
}

// Connections that arrive together are spread over the workers. The kernel
// wakes the first worker waiting on the shared socket for each new
// connection, and an idle one, quick to wait again, would take them all,
// leaving the others idle for as long as those connections are kept (a
// load balancer's pool, a benchmark's clients). Rounds of 64 connections
// opened as wrk opens them, back to back without waiting for any, then a
// request on each: in every round each of the two workers must serve at
// least a quarter of the new ones.
func TestConnectionsSpreadOverWorkers(t *testing.T) {
	notify := filepath.Join(t.TempDir(), "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s := testutil.Start(t, testutil.Options{Env: []string{"NOTIFY_SOCKET=" + notify}},
		"-w", "2", "--keep-alive", "60", "--pythonpath", ".", "conformance:pid")
	// READY=1 once every worker serves.
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	msg := make([]byte, 256)
	if n, err := nc.Read(msg); err != nil || !strings.Contains(string(msg[:n]), "READY=1") {
		t.Fatalf("no READY=1: %q %v\n%s", msg[:n], err, s.Log.String())
	}
	port, _ := strconv.Atoi(s.URL[strings.LastIndexByte(s.URL, ':')+1:])
	// A worker's first request is slower (imports, caches): one
	// round to warm both up, whose spread is not judged.
	const rounds, conns = 5, 64
	for round := range rounds {
		served := map[string]int{}
		cs := burstDial(t, port, conns)
		for _, c := range cs {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		for _, c := range cs {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, s.Log.String())
			}
			body, _ := io.ReadAll(resp.Body)
			served[string(body)]++
		}
		// All stay open to the end: each worker holds its own, and
		// connections closing as the next round opens would leave the
		// counts behind what the workers hold.
		defer func() {
			for _, c := range cs {
				c.Close()
			}
		}()
		t.Logf("round %d: connections per worker: %v", round, served)
		if round == 0 {
			continue
		}
		if len(served) != 2 {
			t.Errorf("round %d: %d connections answered by %v, want both workers", round, conns, served)
			continue
		}
		for pid, n := range served {
			if n < conns/4 {
				t.Errorf("round %d: worker %s served %d of %d connections (%v), want at least a quarter", round, pid, n, conns, served)
			}
		}
	}
}

// burstDial opens n connections to 127.0.0.1:port as wrk does: every
// connect issued at once, none waited for before the next.
func burstDial(t *testing.T, port, n int) []net.Conn {
	t.Helper()
	fds := make([]int, n)
	for i := range fds {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil && err != syscall.EINPROGRESS {
			t.Fatal(err)
		}
		fds[i] = fd
	}
	cs := make([]net.Conn, n)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "conn")
		c, err := net.FileConn(f) // waits for the connection through Go's poller
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		cs[i] = c
	}
	return cs
}
