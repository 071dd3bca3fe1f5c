// The gowsgi under test: started on a free port of 127.0.0.1 with its log
// in a file, stopped with TERM, and whatever is left of it killed by PID.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

type server struct {
	cmd    *exec.Cmd
	master int
	addr   string // 127.0.0.1:PORT
	port   int
	exited chan struct{}

	mu   sync.Mutex
	seen map[int]bool // every worker PID sampled: killed at the end if left
}

var listening = regexp.MustCompile(`Listening at: http://127\.0\.0\.1:(\d+)`)

// watcher passes the log on to the file and finds the port gowsgi bound.
type watcher struct {
	out  io.Writer
	mu   sync.Mutex
	buf  bytes.Buffer
	port chan int
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.port != nil {
		w.buf.Write(p)
		if m := listening.FindSubmatch(w.buf.Bytes()); m != nil {
			var port int
			fmt.Sscan(string(m[1]), &port)
			w.port <- port
			w.port = nil
			w.buf.Reset()
		}
	}
	w.mu.Unlock()
	return w.out.Write(p)
}

// startServer runs gowsgi with args (the bind is added) and waits for it to
// listen.
func startServer(binary string, log io.Writer, args ...string) (*server, error) {
	w := &watcher{out: log, port: make(chan int, 1)}
	cmd := exec.Command(binary, append([]string{"-b", "127.0.0.1:0"}, args...)...)
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group: a Ctrl-C at the terminal reaches the soak,
	// which stops gowsgi itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, master: cmd.Process.Pid, exited: make(chan struct{}), seen: map[int]bool{}}
	go func() { cmd.Wait(); close(s.exited) }()
	select {
	case s.port = <-w.port:
		s.addr = fmt.Sprintf("127.0.0.1:%d", s.port)
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("gowsgi exited before listening (see its log)")
	case <-time.After(60 * time.Second):
		s.stop(time.Second)
		return nil, fmt.Errorf("gowsgi did not listen within 60 s (see its log)")
	}
}

// waitWorkers waits until the master has n workers.
func (s *server) waitWorkers(n int, d time.Duration) error {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if len(workers(s.master)) == n {
			return nil
		}
	}
	return fmt.Errorf("the master has %d workers after %v, not %d", len(workers(s.master)), d, n)
}

func (s *server) remember(pids []int) {
	s.mu.Lock()
	for _, pid := range pids {
		s.seen[pid] = true
	}
	s.mu.Unlock()
}

// stop sends TERM to the master and waits up to grace for it to exit,
// then kills the master and every worker still there, by PID.
func (s *server) stop(grace time.Duration) (graceful bool) {
	s.remember(workers(s.master))
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		graceful = true
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid := range s.seen {
		// Only if the PID still is a gowsgi worker, not a process that
		// took the number since.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.HasPrefix(string(b), "gowsgi") {
			syscall.Kill(pid, syscall.SIGKILL)
			graceful = false
		}
	}
	return graceful
}
