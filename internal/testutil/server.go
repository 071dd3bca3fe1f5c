// Package testutil runs the gowsgi command in tests: it builds the binary
// once per test process, starts servers on 127.0.0.1 with a port the kernel
// picks, and stops them by PID when the test ends.
package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Root is the repository's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Testdata is the repository's testdata directory.
func Testdata() string { return filepath.Join(Root(), "testdata") }

var build struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// Binary builds cmd/gowsgi (with the race detector when the tests run with
// it) and returns its path. The build happens once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "gowsgi-test-bin-")
		if err != nil {
			build.err = err
			return
		}
		// A server switching to another user (--user) runs it again.
		os.Chmod(dir, 0o755)
		build.dir = dir
		build.path = filepath.Join(dir, "gowsgi")
		args := []string{"build", "-o", build.path}
		if RaceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/gowsgi")...)
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Cleanup removes the built binaries; call it from TestMain after m.Run.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	otherDirs.Range(func(dir, _ any) bool {
		os.RemoveAll(dir.(string))
		return true
	})
}

// Server is a running gowsgi process.
type Server struct {
	t    testing.TB
	Cmd  *exec.Cmd
	URL  string // http://127.0.0.1:PORT of its first TCP listener
	Addr string // 127.0.0.1:PORT
	// Log is everything it wrote to stderr and stdout, copied from a pipe:
	// while it runs, a line may arrive after what it reports is seen
	// elsewhere (/proc, a response), so look for such lines with WaitLog.
	// Once Wait has seen it exit, the log is whole.
	Log *Buffer

	exitCode int
	exited   chan struct{}
}

// Buffer is a bytes.Buffer safe for the process's output goroutines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var listening = regexp.MustCompile(`Listening at: http://(\S+)`)

// Options for Start.
type Options struct {
	Dir string   // working directory (default: testdata)
	Env []string // added to the environment
	// NoBind leaves --bind to the caller's args; by default Start adds
	// -b 127.0.0.1:0.
	NoBind bool
	// Wait is how long to wait for "Listening at" (default 60s).
	Wait time.Duration
	// Program runs another gowsgi binary than Binary's (one built against
	// another Python: BinaryFor).
	Program string
}

// Start runs gowsgi with args (plus -b 127.0.0.1:0) and waits until it
// listens. The server is stopped when the test ends.
func Start(t testing.TB, opts Options, args ...string) *Server {
	t.Helper()
	s := Launch(t, opts, args...)
	wait := opts.Wait
	if wait == 0 {
		wait = 60 * time.Second
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(s.Log.String()); m != nil {
			s.Addr = m[1]
			s.URL = "http://" + m[1]
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("gowsgi exited (status %d) before listening:\n%s", s.exitCode, s.Log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("gowsgi did not listen within %v:\n%s", wait, s.Log)
	return nil
}

// Launch runs gowsgi without waiting for it to listen (for start-up
// failures). The process is stopped when the test ends.
func Launch(t testing.TB, opts Options, args ...string) *Server {
	t.Helper()
	if !opts.NoBind {
		// After a subcommand, which only the first argument can be.
		at := 0
		if len(args) > 0 && (args[0] == "serve" || args[0] == "demo") {
			at = 1
		}
		args = append(append(append([]string(nil), args[:at]...), "-b", "127.0.0.1:0"), args[at:]...)
	}
	program := opts.Program
	if program == "" {
		program = Binary(t)
	}
	cmd := exec.Command(program, args...)
	cmd.Dir = opts.Dir
	if cmd.Dir == "" {
		cmd.Dir = Testdata()
	}
	cmd.Env = append(CleanEnv(), opts.Env...)
	s := &Server{t: t, Cmd: cmd, Log: &Buffer{}, exited: make(chan struct{})}
	cmd.Stdout = s.Log
	cmd.Stderr = s.Log
	// Its own process group: Stop can end the workers with the master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		s.exitCode = 0
		if ee, ok := err.(*exec.ExitError); ok {
			s.exitCode = ee.ExitCode()
			// Killed by a signal: 128+n as a shell shows it, so that
			// it differs from Wait's "still running".
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				s.exitCode = 128 + int(ws.Signal())
			}
		}
		close(s.exited)
	}()
	t.Cleanup(func() { s.Stop() })
	return s
}

// CleanEnv is the test process's environment without the settings that
// would change how gowsgi starts (GOWSGI_*, VIRTUAL_ENV).
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOWSGI_") || strings.HasPrefix(kv, "VIRTUAL_ENV=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// PID of the server process.
func (s *Server) PID() int { return s.Cmd.Process.Pid }

// Signal sends sig to the server.
func (s *Server) Signal(sig syscall.Signal) { s.Cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit status
// (-1 if it is still running).
func (s *Server) Wait(d time.Duration) int {
	select {
	case <-s.exited:
		return s.exitCode
	case <-time.After(d):
		return -1
	}
}

// Stop ends the server: SIGTERM, then SIGKILL to its whole process group
// (master and workers) if it has not exited after 40 seconds. It returns
// the exit status; a server that dies of the SIGTERM, not handling it, is
// an error.
func (s *Server) Stop() int {
	select {
	case <-s.exited:
		return s.exitCode
	default:
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(40 * time.Second); code >= 0 {
		if code == 128+int(syscall.SIGTERM) {
			s.t.Errorf("gowsgi died of SIGTERM instead of stopping:\n%s", s.Log)
		}
		return code
	}
	s.t.Errorf("gowsgi did not stop within 40 s of SIGTERM:\n%s", s.Log)
	syscall.Kill(-s.PID(), syscall.SIGKILL)
	<-s.exited
	return s.exitCode
}

// WorkerPIDs lists the worker processes of the server (its children).
func (s *Server) WorkerPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(s.PID()) && !helper(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// helper tells the master's other children from its workers: the
// helper that runs its hooks, a new master of SIGUSR2.
func helper(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.HasPrefix(string(b), "gowsgi: config helper") || masterOfUpgrade(pid)
}

// masterOfUpgrade tells whether pid is a master started by SIGUSR2.
func masterOfUpgrade(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return strings.Contains(string(b), "_GOWSGI_PARENT_MASTER=")
}

// WaitWorkers waits up to d for the server to have n workers, and returns
// their PIDs.
func (s *Server) WaitWorkers(n int, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		pids := s.WorkerPIDs()
		if len(pids) == n || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Worker is the PID of the server's only worker.
func (s *Server) Worker() int {
	pids := s.WaitWorkers(1, 30*time.Second)
	if len(pids) != 1 {
		s.t.Fatalf("expected one worker, found %v", pids)
	}
	return pids[0]
}

// RSS returns the resident set size of the server's only worker and its
// peak (VmRSS, VmHWM) in bytes, from /proc. It fails the test when it
// cannot read them.
func (s *Server) RSS() (rss, peak int64) {
	s.t.Helper()
	status := fmt.Sprintf("/proc/%d/status", s.Worker())
	f, err := os.Open(status)
	if err != nil {
		s.t.Fatalf("reading the worker's memory: %v\n%s", err, s.Log)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || (fields[0] != "VmRSS:" && fields[0] != "VmHWM:") {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			s.t.Fatalf("%s: %q: %v", status, sc.Text(), err)
		}
		if fields[0] == "VmRSS:" {
			rss = kb * 1024
		} else {
			peak = kb * 1024
		}
	}
	// A measurement of nothing must not pass for a small one.
	if err := sc.Err(); err != nil || rss == 0 || peak == 0 {
		s.t.Fatalf("%s: no VmRSS and VmHWM (%v): the memory cannot be measured", status, err)
	}
	return rss, peak
}

// ResetPeak resets the worker's VmHWM, so RSS reports the peak from now on.
func (s *Server) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.Worker()), []byte("5"), 0)
}

// WaitLog waits up to d for the log to contain substr.
func (s *Server) WaitLog(substr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(s.Log.String(), substr) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

var measuring struct {
	once sync.Once
	path string
	err  error
}

// MeasuringBinary builds cmd/gowsgi without the race detector, whose
// shadow memory would make up most of what a test of memory measures.
func MeasuringBinary(t testing.TB) string {
	t.Helper()
	if !RaceEnabled {
		return Binary(t)
	}
	measuring.once.Do(func() {
		dir, err := os.MkdirTemp("", "gowsgi-test-measuring-")
		if err != nil {
			measuring.err = err
			return
		}
		otherDirs.Store(dir, true)
		measuring.path = filepath.Join(dir, "gowsgi")
		cmd := exec.Command("go", "build", "-o", measuring.path, "./cmd/gowsgi")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			measuring.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if measuring.err != nil {
		t.Fatal(measuring.err)
	}
	return measuring.path
}
