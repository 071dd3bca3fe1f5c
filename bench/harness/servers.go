package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one WSGI server the benchmark compares.
type server struct {
	name string
	// command returns the command line serving app on port with that
	// many worker processes of that many threads.
	command func(app string, port, threads, workers int) []string
	// only restricts the server to these applications (nil: all).
	only []string
	// single: the server has no worker processes (waitress, bjoern,
	// fastwsgi, pyruvate, Go's net/http).
	single bool
	// threading says why the server runs no pool of Python threads ("":
	// it runs as many as it is given).
	threading string
	// notPeer: not a WSGI server (Go's net/http, the ceiling of an HTTP
	// layer), so not among the peers gowsgi is compared with.
	notPeer bool
}

func (s server) serves(app string) bool {
	if s.only == nil {
		return true
	}
	for _, a := range s.only {
		if a == app {
			return true
		}
	}
	return false
}

// threadsLabel is what the results tables say of the server's threads
// when it is given n.
func (s server) threadsLabel(n int) string {
	if s.threading != "" {
		return s.threading
	}
	return strconv.Itoa(n)
}

// python is Debian's interpreter, the one gowsgi and uWSGI embed and the
// benchmark's virtualenv is made with.
var python = "/usr/bin/python3"

const singleThreaded = "single-threaded"

// servers are the servers of the benchmark; venv is the virtualenv of
// bench/requirements.txt, whose Flask every server's json uses.
func servers(root, venv, baseline string) []server {
	apps := filepath.Join(root, "bench", "apps")
	venvPython := filepath.Join(venv, "bin", "python")
	// serve_peer.py starts the servers that have no command of their own.
	peer := func(name string) func(app string, port, threads, workers int) []string {
		return func(app string, port, threads, workers int) []string {
			return []string{venvPython, filepath.Join(apps, "serve_peer.py"), name, "bench_apps:" + app, strconv.Itoa(port), strconv.Itoa(threads)}
		}
	}
	gowsgi := func(binary string) func(app string, port, threads, workers int) []string {
		return func(app string, port, threads, workers int) []string {
			return []string{binary, "-b", addr(port), "-w", strconv.Itoa(workers), "--threads", strconv.Itoa(threads),
				"--virtualenv", venv, "--pythonpath", apps, "--log-level", "warning", "bench_apps:" + app}
		}
	}
	list := []server{
		{
			name:    "gowsgi",
			command: gowsgi(filepath.Join(root, "bin", "gowsgi")),
		},
		{
			name: "uwsgi-http11",
			command: func(app string, port, threads, workers int) []string {
				cmd := []string{"uwsgi", "--plugin", "python3", "--http11-socket", addr(port), "--virtualenv", venv, "--pythonpath", apps,
					"--module", "bench_apps:" + app, "--master", "--processes", strconv.Itoa(workers), "--disable-logging", "--die-on-term"}
				if threads > 1 {
					cmd = append(cmd, "--threads", strconv.Itoa(threads))
				}
				return cmd
			},
		},
		{
			name: "granian",
			command: func(app string, port, threads, workers int) []string {
				// One Rust runtime thread, as its own benchmarks run it;
				// the application runs on its blocking threads.
				return []string{filepath.Join(venv, "bin", "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
					"--workers", strconv.Itoa(workers), "--blocking-threads", strconv.Itoa(threads), "--runtime-threads", "1",
					"--http", "1", "--no-ws", "--log-level", "warning", "--working-dir", apps, "bench_apps:" + app}
			},
		},
		{
			name:      "bjoern",
			command:   peer("bjoern"),
			single:    true,
			threading: singleThreaded,
		},
		{
			name:      "fastwsgi",
			command:   peer("fastwsgi"),
			single:    true,
			threading: singleThreaded,
		},
		{
			name:    "pyruvate",
			command: peer("pyruvate"),
			single:  true,
		},
		{
			name: "gunicorn-sync",
			command: func(app string, port, threads, workers int) []string {
				return []string{venvPython, "-m", "gunicorn", "--chdir", apps, "-w", strconv.Itoa(workers), "-k", "sync", "-b", addr(port),
					"--log-level", "warning", "bench_apps:" + app}
			},
			threading: "none (sync worker)",
		},
		{
			name: "gunicorn-gthread",
			command: func(app string, port, threads, workers int) []string {
				return []string{venvPython, "-m", "gunicorn", "--chdir", apps, "-w", strconv.Itoa(workers), "-k", "gthread",
					"--threads", strconv.Itoa(threads), "-b", addr(port), "--log-level", "warning", "bench_apps:" + app}
			},
		},
		{
			name: "waitress",
			command: func(app string, port, threads, workers int) []string {
				// waitress-serve imports from the working directory, bench/apps.
				return []string{venvPython, "-m", "waitress", "--listen=" + addr(port), "--threads=" + strconv.Itoa(threads),
					"bench_apps:" + app}
			},
			single: true,
		},
		{
			name: "go-net/http",
			command: func(app string, port, threads, workers int) []string {
				return []string{filepath.Join(root, "bin", "bench-nethttp"), "-addr", addr(port)}
			},
			only:      []string{"hello"},
			single:    true,
			threading: "no Python",
			notPeer:   true,
		},
	}
	if baseline != "" {
		// An earlier build of gowsgi (make bench BASELINE=commit), to
		// show what a change costs or gains: not a peer.
		list = append(list, server{name: beforeName, command: gowsgi(baseline), notPeer: true})
	}
	return list
}

// beforeName is the earlier build's name in the tables.
const beforeName = "gowsgi-before"

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// running is a started server process (with its children: masters fork).
type running struct {
	cmd  *exec.Cmd
	port int
	log  *os.File
}

// start runs argv pinned to cpu, in its own process group, and waits until
// its port accepts connections.
func start(argv []string, dir string, cpu string, port int, env []string) (*running, error) {
	logf, err := os.CreateTemp("", "bench-server-*.log")
	if err != nil {
		return nil, err
	}
	args := argv
	if cpu != "" {
		args = append([]string{"taskset", "-c", cpu}, argv...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &running{cmd: cmd, port: port, log: logf}
	live.Store(r, true)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited: %s", argv[0], r.output())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr(port), 200*time.Millisecond); err == nil {
			c.Close()
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("%s did not listen on %d: %s", argv[0], port, r.output())
}

func (r *running) output() string {
	b, _ := os.ReadFile(r.log.Name())
	s := string(b)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return strings.TrimSpace(s)
}

// logTail is the last line the server logged, as "; its log: ..." (""
// if none), to say why an answer was wrong.
func (r *running) logTail() string {
	out := r.output()
	if out == "" {
		return ""
	}
	return "; its log: " + strings.TrimSpace(out[strings.LastIndexByte(out, '\n')+1:])
}

// live holds the servers running, for stopAll.
var live sync.Map

// stopAll stops every server still running: the harness is interrupted.
func stopAll() {
	live.Range(func(k, _ any) bool {
		k.(*running).stop()
		return true
	})
}

// stop ends the whole process group: SIGTERM, then SIGKILL.
func (r *running) stop() {
	if _, ok := live.LoadAndDelete(r); !ok {
		return
	}
	pgid := r.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for syscall.Kill(-pgid, 0) == nil {
			time.Sleep(20 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	r.log.Close()
	os.Remove(r.log.Name())
}

// pids lists the processes of the server's process group.
func (r *running) pids() []int {
	pgid := r.cmd.Process.Pid
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// worker is the process serving: the one child of a master, else the
// server's only process.
func (r *running) worker() int {
	for _, pid := range r.pids() {
		if pid != r.cmd.Process.Pid {
			return pid
		}
	}
	return r.cmd.Process.Pid
}

// memory is the resident memory of the server's process group, in bytes:
// rss sums every process's RSS, so pages the processes share (a master's
// and its workers' code, libraries) count once per process; pss divides
// each shared page among the processes sharing it, so the group's pages
// count once.
func (r *running) memory() (rss, pss int64) {
	for _, pid := range r.pids() {
		rss += procKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
		pss += procKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
	}
	return rss, pss
}

// cpuTime is the CPU time the server's process group used so far.
func (r *running) cpuTime() time.Duration {
	var ticks int64
	for _, pid := range r.pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces).
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + k
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// procKB reads a kB field of a /proc file such as /proc/PID/status, in
// bytes.
func procKB(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
