// Package master runs gowsgi's master process: pure Go, it holds the
// listening sockets, starts the workers by executing its own binary again
// (a Go process cannot fork), replaces those that die, reloads them on HUP
// without dropping a request, and stops them gracefully. Signals keep
// gunicorn's meanings.
package master

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/balance"
)

// Exit statuses of a worker that could not start, gunicorn's: the master
// stops the server with them rather than start workers that fail again.
const (
	// ExitBootError: the worker could not use the configuration (a
	// --chdir that is gone, a hook that raised): WORKER_BOOT_ERROR.
	ExitBootError = 3
	// ExitAppLoad: the application cannot be imported: APP_LOAD_ERROR.
	ExitAppLoad = 4
)

// Config of the master.
type Config struct {
	Workers         int
	Sockets         []*os.File // passed to every worker
	Argv            []string   // the command line the workers run again
	Env             []string   // added to the workers' environment
	GracefulTimeout time.Duration
	// SilentTimeout: a worker sending no heartbeat this long is killed.
	SilentTimeout time.Duration
	// MaxWorkerMemory: a worker whose RSS passes it, in bytes, is replaced.
	MaxWorkerMemory int64
	Log             *slog.Logger
	ReopenLogs      func() // on SIGUSR1, after the workers were told
	// Changes, if set, delivers the files changed under the application
	// (--reload): each delivery reloads the workers. A worker that cannot
	// load the application then does not stop the server: the master
	// waits for the next change, and the workers that serve keep serving.
	Changes <-chan []string
	// Signals delivers the signals the master acts on (CatchSignals);
	// Run stops the subscription when it returns.
	Signals chan os.Signal
	// MonitorSlack, if set, is the timer slack workers start with, so the
	// Go runtime's monitor does not take the processor away from Python
	// calls shorter than it (see startWithSlack).
	MonitorSlack time.Duration
	// Preload starts the first worker alone and the others once it is
	// ready, so that an application that cannot be imported fails once.
	Preload bool
	// Hooks, if set, is told of the moments of gunicorn's server hooks.
	Hooks Hooks
	// Reconfigure, if set, runs on each reload before the new workers
	// start: it reads the configuration anew and returns the workers'
	// environment (replacing Env) and number. On an error the workers
	// keep the configuration they have.
	Reconfigure func() (env []string, workers int, err error)

	// For SIGUSR2 (upgrade.go): the command line and the environment of
	// a new master, PreExec called before it starts (gunicorn's pre_exec),
	// Upgrading set while it runs (the sockets' files are then its own
	// too), and Parent, for a master a SIGUSR2 started, the PID of the
	// master that did.
	MasterArgv []string
	MasterEnv  []string
	PreExec    func()
	Upgrading  *atomic.Bool
	Parent     int
}

// Hooks are the master's moments that gunicorn's server hooks name.
type Hooks interface {
	PreFork(s State, w WorkerInfo)              // pre_fork: before a worker starts
	ChildExit(s State, w WorkerInfo)            // child_exit: after a worker exited
	NumWorkersChanged(s State, now, before int) // nworkers_changed: TTIN, TTOU, a reload
	Reloading(s State)                          // on_reload: SIGHUP, before the new workers start
}

// State is what hooks learn of the master.
type State struct {
	PID        int
	NumWorkers int // the workers it keeps running
	Workers    []WorkerInfo
	WorkerAge  int // the number of the last worker started
}

// WorkerInfo names a worker: Age is its number, counting from 1 as
// workers start (gunicorn's worker.age); PID is 0 before it runs.
type WorkerInfo struct {
	Age, PID int
}

type worker struct {
	id       int
	cmd      *exec.Cmd
	pid      int
	ready    bool
	retiring bool      // told to stop; its replacement is (or was) started
	killAt   time.Time // when a retiring worker gets SIGKILL
	abortAt  time.Time // when a worker sent SIGABRT gets SIGKILL; zero before
	lastBeat time.Time
	replaces *worker // the worker to retire when this one is ready
	reload   bool    // started by a reload: a failure to boot keeps the old one
	seat     int     // its slot on the balance board; -1: none
}

type event struct {
	w      *worker
	kind   string // a message, or "exit"
	arg    string
	status int
}

type master struct {
	cfg     Config
	log     *slog.Logger
	events  chan event
	workers map[*worker]bool
	target  int // how many workers should serve
	nextID  int
	backoff time.Duration
	booted  bool // every first worker has been ready once
	waiting bool // the application failed to load: wait for a change (Changes)
	exe     string
	hooks   Hooks
	child   *exec.Cmd     // the new master a SIGUSR2 started
	board   *balance.Host // the workers' connection counts; nil if it could not be made
}

// state describes the master for its hooks.
func (m *master) state() State {
	s := State{PID: os.Getpid(), NumWorkers: m.target, WorkerAge: m.nextID}
	for w := range m.workers {
		if !w.retiring {
			s.Workers = append(s.Workers, WorkerInfo{Age: w.id, PID: w.pid})
		}
	}
	return s
}

// setTarget changes the number of workers to keep, telling the hooks.
func (m *master) setTarget(n int) {
	before := m.target
	m.target = n
	if m.hooks != nil && n != before {
		m.hooks.NumWorkersChanged(m.state(), n, before)
	}
}

// CatchSignals subscribes to the signals Run acts on, for Config.Signals.
// Call it before the server shows it is up (its "Listening at" lines): a
// SIGTERM from then on must stop it gracefully, removing its pid file and
// socket files, and the signals that arrive before Run wait for it.
func CatchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT,
		syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	return sigs
}

// Run supervises the workers until SIGTERM, SIGINT or SIGQUIT, and returns
// the exit status of the server.
func Run(cfg Config) int {
	exe, err := os.Executable()
	if err != nil {
		cfg.Log.Error("cannot find the gowsgi executable to start workers", "error", err)
		return 1
	}
	m := &master{cfg: cfg, log: cfg.Log, events: make(chan event, 64), workers: map[*worker]bool{},
		target: cfg.Workers, exe: exe, hooks: cfg.Hooks}
	sigs := cfg.Signals
	defer signal.Stop(sigs)
	if h, err := balance.NewHost(balance.Slots(cfg.Workers)); err == nil {
		m.board = h
		defer h.Close()
	} else {
		m.log.Warn("cannot share connection counts between the workers; a burst of new connections may go to one of them", "error", err)
	}

	first := m.target
	if cfg.Preload {
		first = 1 // the others once it is ready: see startMissing
	}
	for i := 0; i < first; i++ {
		if err := m.spawn(nil, false); err != nil {
			m.log.Error("cannot start a worker", "error", err)
			return 1
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var respawnAt time.Time
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				m.reload("Reloading (SIGHUP)")
			case syscall.SIGTERM, syscall.SIGINT:
				return m.stop(syscall.SIGTERM, cfg.GracefulTimeout, "Shutting down gracefully ("+sig.String()+")")
			case syscall.SIGQUIT:
				return m.stop(syscall.SIGQUIT, time.Second, "Shutting down now ("+sig.String()+")")
			case syscall.SIGTTIN:
				m.setTarget(m.target + 1)
				m.log.Info("One worker more (SIGTTIN)", "workers", m.target)
			case syscall.SIGTTOU:
				if m.target > 1 {
					m.setTarget(m.target - 1)
					m.log.Info("One worker less (SIGTTOU)", "workers", m.target)
					if old := m.oldest(); old != nil {
						m.retire(old)
					}
				}
			case syscall.SIGUSR1:
				m.signalAll(syscall.SIGUSR1)
				if cfg.ReopenLogs != nil {
					cfg.ReopenLogs()
				}
			case syscall.SIGUSR2:
				if len(cfg.MasterArgv) > 0 {
					m.reexec()
				}
			case syscall.SIGWINCH:
				m.winch()
			}
		case files := <-cfg.Changes:
			m.reload("Reloading (changed: " + describe(files) + ")")
		case ev := <-m.events:
			if status, stop := m.handle(ev); stop {
				return status
			}
		case now := <-tick.C:
			m.check(now)
		}
		// Keep the number of serving workers at the target, slowly when
		// workers keep dying before they are ready; with Preload, once
		// the first worker has imported the application.
		if !m.waiting && m.serving() < m.target && time.Now().After(respawnAt) && !m.preloading() {
			for m.serving() < m.target {
				if err := m.spawn(nil, false); err != nil {
					m.backoff = min(max(2*m.backoff, time.Second), 30*time.Second)
					m.log.Error("cannot start a worker", "error", err, "retry_in", m.backoff)
					break
				}
			}
			respawnAt = time.Now().Add(m.backoff)
		}
	}
}

// preloading tells whether the first worker still imports the application
// alone (Config.Preload).
func (m *master) preloading() bool {
	if !m.cfg.Preload || m.booted {
		return false
	}
	for w := range m.workers {
		if w.ready {
			return false
		}
	}
	return len(m.workers) > 0
}

// serving counts the workers that serve or will: not retiring.
func (m *master) serving() int {
	n := 0
	for w := range m.workers {
		if !w.retiring {
			n++
		}
	}
	return n
}

// spawn starts a worker; replaces, if set, is retired once it is ready.
func (m *master) spawn(replaces *worker, reload bool) error {
	m.nextID++
	w := &worker{id: m.nextID, replaces: replaces, reload: reload, lastBeat: time.Now(), seat: -1}
	if m.hooks != nil {
		m.hooks.PreFork(m.state(), WorkerInfo{Age: w.id})
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(m.exe, m.cfg.Argv[1:]...)
	cmd.Args[0] = m.cfg.Argv[0] // the worker's title
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%d:%d", envWorker, w.id, len(m.cfg.Sockets), m.cfg.Workers))
	cmd.Env = append(cmd.Env, m.cfg.Env...)
	cmd.ExtraFiles = append(append([]*os.File(nil), m.cfg.Sockets...), pw)
	if m.board != nil {
		if w.seat = m.board.Take(); w.seat >= 0 {
			files := m.board.Files()
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d:%d", envBalance, w.seat, len(files)))
			cmd.ExtraFiles = append(cmd.ExtraFiles, files...)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	err = startWithSlack(cmd, m.cfg.MonitorSlack)
	restoreNonblocking(m.cfg.Sockets)
	if err != nil {
		pw.Close()
		r.Close()
		m.freeSeat(w)
		return err
	}
	pw.Close()
	w.cmd, w.pid = cmd, cmd.Process.Pid
	m.workers[w] = true
	m.log.Info("Booting worker with pid: " + strconv.Itoa(w.pid))
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			kind, arg, _ := strings.Cut(sc.Text(), " ")
			m.events <- event{w: w, kind: kind, arg: arg}
		}
		r.Close()
	}()
	go func() {
		err := cmd.Wait()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				status = 128 + int(ws.Signal())
			}
		}
		m.events <- event{w: w, kind: "exit", status: status}
	}()
	return nil
}

// spawnOrLog starts a replacement; if it cannot, the old worker serves on.
func (m *master) spawnOrLog(replaces *worker, reload bool) {
	if err := m.spawn(replaces, reload); err != nil {
		m.log.Error("cannot start a worker", "error", err)
	}
}

// handle reacts to a worker's message or exit. stop is true when the
// whole server must stop, with status.
func (m *master) handle(ev event) (status int, stop bool) {
	if ev.kind == "master-exit" {
		m.masterExited(ev.arg)
		return 0, false
	}
	w := ev.w
	if !m.workers[w] {
		return 0, false
	}
	switch ev.kind {
	case msgAlive:
		w.lastBeat = time.Now()
	case msgReady:
		w.ready, w.lastBeat = true, time.Now()
		m.backoff = 0
		if old := w.replaces; old != nil && m.workers[old] {
			m.retire(old)
		}
		if !m.booted && m.allReady() {
			m.booted = true
			daemon.SdNotify(false, daemon.SdNotifyReady)
		}
	case msgRecycle:
		if !w.retiring && !m.replacing(w) {
			m.log.Info("Replacing worker "+strconv.Itoa(w.pid), "reason", ev.arg)
			m.spawnOrLog(w, false)
		}
	case "exit":
		delete(m.workers, w)
		m.freeSeat(w)
		if m.hooks != nil {
			m.hooks.ChildExit(m.state(), WorkerInfo{Age: w.id, PID: w.pid})
		}
		switch {
		case w.retiring:
			m.log.Info("Worker exited (pid: " + strconv.Itoa(w.pid) + ")")
		case !w.ready && ev.status == ExitAppLoad && w.reload:
			m.log.Error("The reloaded application failed to load; the workers keep the code they have")
		case !w.ready && ev.status == ExitAppLoad && m.cfg.Changes != nil:
			m.waiting = true
			m.log.Error("The application failed to load; waiting for a change to its files")
		case !w.ready && ev.status == ExitAppLoad:
			m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout, "Worker failed to load the application: shutting down")
			return ExitAppLoad, true
		case !w.ready && ev.status == ExitBootError && w.reload:
			m.log.Error("A reloaded worker failed to boot; the workers keep the configuration they have")
		case !w.ready && ev.status == ExitBootError:
			m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout, "Worker failed to boot: shutting down")
			return ExitBootError, true
		case !w.ready:
			m.backoff = min(max(2*m.backoff, time.Second), 30*time.Second)
			m.log.Error("Worker died while booting", "pid", w.pid, "status", ev.status, "retry_in", m.backoff)
		default:
			m.log.Error("Worker exited unexpectedly; starting a new one", "pid", w.pid, "status", ev.status)
		}
		// A worker waiting to take over from this one now simply serves.
		for o := range m.workers {
			if o.replaces == w {
				o.replaces = nil
			}
		}
	}
	return 0, false
}

func (m *master) allReady() bool {
	for w := range m.workers {
		if !w.ready {
			return false
		}
	}
	return len(m.workers) > 0
}

// replacing tells whether a new worker is starting to replace w.
func (m *master) replacing(w *worker) bool {
	for o := range m.workers {
		if o.replaces == w {
			return true
		}
	}
	return false
}

// retire asks a worker to finish its requests and exit.
func (m *master) retire(w *worker) {
	if w.retiring {
		return
	}
	w.retiring = true
	w.killAt = time.Now().Add(m.cfg.GracefulTimeout + 5*time.Second)
	if m.board != nil {
		// The others must not wait for it to take connections.
		m.board.Retire(w.seat)
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
}

// freeSeat gives back w's slot on the balance board.
func (m *master) freeSeat(w *worker) {
	if m.board != nil {
		m.board.Free(w.seat)
		w.seat = -1
	}
}

// oldest is the longest-serving worker not retiring.
func (m *master) oldest() *worker {
	var old *worker
	for w := range m.workers {
		if !w.retiring && (old == nil || w.id < old.id) {
			old = w
		}
	}
	return old
}

// reload starts a new worker for each serving one: it imports the
// application anew, and the old worker finishes its requests and exits
// once the new one is ready. Listening sockets stay open throughout, so no
// connection is refused. A worker still booting gets a replacement too:
// it may have imported the code before the change.
func (m *master) reload(why string) {
	m.log.Info(why + ": starting new workers")
	daemon.SdNotify(false, daemon.SdNotifyReloading)
	m.waiting = false
	if m.cfg.Reconfigure != nil {
		env, workers, err := m.cfg.Reconfigure()
		if err != nil {
			m.log.Error("The configuration could not be read again; the workers keep the one they have", "error", err)
		} else {
			m.cfg.Env = env
			m.cfg.Workers = workers
			if workers != m.target && m.target != 0 {
				m.setTarget(workers)
			}
		}
	}
	if m.target == 0 {
		// The workers a SIGWINCH stopped come back: an upgrade undone.
		m.setTarget(m.cfg.Workers)
	}
	if m.hooks != nil {
		m.hooks.Reloading(m.state())
	}
	var old []*worker
	for w := range m.workers {
		if !w.retiring && !m.replacing(w) {
			old = append(old, w)
		}
	}
	for _, w := range old {
		m.spawnOrLog(w, true)
	}
	m.booted = false // READY=1 again once all are ready
}

// describe lists changed files for the log, briefly.
func describe(files []string) string {
	names := make([]string, 0, 3)
	for _, f := range files {
		if len(names) == 3 {
			return strings.Join(names, ", ") + fmt.Sprintf(" and %d more", len(files)-3)
		}
		names = append(names, filepath.Base(f))
	}
	return strings.Join(names, ", ")
}

// check kills workers that went silent or overstay their retirement, and
// replaces those past the memory ceiling.
func (m *master) check(now time.Time) {
	for w := range m.workers {
		switch {
		case !w.abortAt.IsZero():
			if now.After(w.abortAt) {
				w.cmd.Process.Kill()
			}
		case w.retiring && now.After(w.killAt):
			m.log.Warn("Worker did not stop in time; aborting it", "pid", w.pid)
			m.abort(w, now)
		case w.ready && !w.retiring && m.cfg.SilentTimeout > 0 && now.Sub(w.lastBeat) > m.cfg.SilentTimeout:
			m.log.Error("Worker silent too long; aborting it", "pid", w.pid, "silent", now.Sub(w.lastBeat).Round(time.Second))
			m.abort(w, now)
		case w.ready && !w.retiring && m.cfg.MaxWorkerMemory > 0 && !m.replacing(w):
			if rss := residentMemory(w.pid); rss > m.cfg.MaxWorkerMemory {
				m.log.Info("Replacing worker "+strconv.Itoa(w.pid), "reason",
					fmt.Sprintf("memory %d MiB above --max-worker-memory", rss>>20))
				m.spawnOrLog(w, false)
			}
		}
	}
}

// abortGrace is how long a worker sent SIGABRT (gunicorn's WORKER TIMEOUT)
// has to run its worker_abort hook and exit before it is killed.
const abortGrace = 3 * time.Second

// abort sends a stuck worker SIGABRT, then SIGKILL if it is still there
// after abortGrace.
func (m *master) abort(w *worker, now time.Time) {
	w.abortAt = now.Add(abortGrace)
	w.cmd.Process.Signal(syscall.SIGABRT)
}

func (m *master) signalAll(sig syscall.Signal) {
	for w := range m.workers {
		w.cmd.Process.Signal(sig)
	}
}

// stop signals every worker and waits for them, killing those still there
// after wait. It returns the server's exit status.
func (m *master) stop(sig syscall.Signal, wait time.Duration, why string) int {
	if why != "" {
		m.log.Info(why)
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	// Stop listening: once the workers close their copies too, new
	// connections are refused rather than left waiting.
	for _, f := range m.cfg.Sockets {
		f.Close()
	}
	m.signalAll(sig)
	deadline := time.After(wait + time.Second)
	for len(m.workers) > 0 {
		select {
		case ev := <-m.events:
			if ev.kind == "exit" && m.workers[ev.w] {
				delete(m.workers, ev.w)
				if m.hooks != nil {
					m.hooks.ChildExit(m.state(), WorkerInfo{Age: ev.w.id, PID: ev.w.pid})
				}
			}
		case <-deadline:
			m.log.Warn("Workers still running after the graceful timeout; killing them", "count", len(m.workers))
			for w := range m.workers {
				w.cmd.Process.Kill()
			}
			deadline = nil
		}
	}
	return 0
}

// residentMemory is a process's RSS in bytes, from /proc.
func residentMemory(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// restoreNonblocking gives the listening sockets back their O_NONBLOCK
// after os/exec passed them to a child: it takes each file's descriptor
// with Fd, which makes it blocking, and that flag belongs to the open
// socket, which every worker shares (and the workers of another server
// given the same socket by systemd). A worker accepts on its event loop's
// thread, which must not block in accept while its kept connections wait.
func restoreNonblocking(files []*os.File) {
	for _, f := range files {
		if rc, err := f.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.SetNonblock(int(fd), true) })
		}
	}
}
