package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/h1"
	"github.com/gowsgi/gowsgi/internal/listen"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/master"
)

// Exit statuses, as gunicorn's.
const (
	exitConfig  = 2 // bad flags or settings
	exitAppLoad = master.ExitAppLoad
)

// logs are the error and access logs of a process.
type logs struct {
	log    *slog.Logger
	errors *logging.File
	access *logging.File // nil without --access-logfile
}

func (l *logs) reopen() {
	l.errors.Reopen()
	if l.access != nil {
		l.access.Reopen()
	}
}

// run serves the application named by spec: as the master process, which
// binds the sockets and runs the workers, or as one of the workers.
func run(fs *pflag.FlagSet, c *config, spec string) error {
	if err := applyEnv(fs); err != nil {
		return err
	}
	l, err := openLogs(c)
	if err != nil {
		return err
	}
	w, err := master.InWorker()
	if err != nil {
		return err
	}
	if w != nil {
		return runWorker(c, spec, w, l)
	}
	return runMaster(c, spec, l)
}

func openLogs(c *config) (*logs, error) {
	level, err := logging.ParseLevel(c.logLevel)
	if err != nil {
		return nil, err
	}
	l := &logs{}
	if l.errors, err = logging.Open(c.errorLogfile, os.Stderr); err != nil {
		return nil, fmt.Errorf("--error-logfile: %w", err)
	}
	l.log = slog.New(logging.NewHandler(l.errors, level))
	if c.accessLogfile != "" {
		if l.access, err = logging.Open(c.accessLogfile, os.Stdout); err != nil {
			return nil, fmt.Errorf("--access-logfile: %w", err)
		}
	}
	return l, nil
}

// runMaster binds the sockets (or takes systemd's), drops privileges, and
// supervises the workers. It never starts Python.
func runMaster(c *config, spec string, l *logs) error {
	if c.workers < 1 {
		return errors.New("--workers must be at least 1")
	}
	// Before anything is bound: a SIGTERM during start-up stops the server
	// the usual way instead of killing it with its pid and socket files.
	sigs := master.CatchSignals()
	defer signal.Stop(sigs)
	opts := listen.Options{ReusePort: c.reusePort}
	if c.socketMode != "" {
		var mode uint32
		if _, err := fmt.Sscanf(c.socketMode, "%o", &mode); err != nil || mode > 0o777 {
			return fmt.Errorf("--socket-mode %q: expected octal permissions such as 660", c.socketMode)
		}
		opts.SocketMode = os.FileMode(mode)
	}
	var sockets []listen.Socket
	defer func() {
		for _, s := range sockets {
			s.Close()
		}
	}()
	if files := activation.Files(true); len(files) > 0 {
		l.log.Info(fmt.Sprintf("Using %d socket(s) from systemd socket activation", len(files)))
		for _, f := range files {
			s, err := listen.FromFile(f)
			if err != nil {
				return err
			}
			sockets = append(sockets, s)
		}
	} else {
		for _, b := range c.binds {
			s, err := listen.Open(b, opts)
			if err != nil {
				return err
			}
			sockets = append(sockets, s)
		}
	}
	if c.pidFile != "" {
		if err := os.WriteFile(c.pidFile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("--pid: %w", err)
		}
		defer os.Remove(c.pidFile)
	}
	// As gunicorn: the master stays who it is (it runs no application code,
	// and removes the pid file and socket files at the end); the workers
	// switch to --user/--group. Check them now, so a typo stops at once.
	if _, _, err := lookupIDs(c.user, c.group); err != nil {
		return err
	}

	l.log.Info("Starting gowsgi " + gowsgi.Version + " (Python " + strings.Fields(gowsgi.PythonVersion())[0] + ")")
	files := make([]*os.File, len(sockets))
	for i, s := range sockets {
		l.log.Info("Listening at: " + s.Name + " (" + fmt.Sprint(os.Getpid()) + ")")
		files[i] = s.File
	}
	l.log.Info(fmt.Sprintf("Application %s: %d worker(s) of %d Python thread(s)", spec, c.workers, c.threads))
	reloader, err := startReloader(c, l.log)
	if err != nil {
		return err
	}
	var changes <-chan []string
	if reloader != nil {
		defer reloader.Close()
		changes = reloader.Changes()
	}
	status := master.Run(master.Config{
		Workers:         c.workers,
		Sockets:         files,
		Argv:            os.Args,
		Env:             []string{listen.WorkerEnv(sockets)},
		GracefulTimeout: time.Duration(c.gracefulTimeout) * time.Second,
		SilentTimeout:   max(30*time.Second, 2*time.Duration(c.timeout)*time.Second),
		MaxWorkerMemory: c.maxWorkerMemory << 20,
		Log:             l.log,
		ReopenLogs:      l.reopen,
		Changes:         changes,
		MonitorSlack:    monitorSlack(c.threads),
		Signals:         sigs,
	})
	l.log.Info("Shutdown complete")
	if status != 0 {
		return exitError{status}
	}
	return nil
}

// runWorker loads the application and serves the sockets the master
// passed, until the master says stop.
func runWorker(c *config, spec string, w *master.Worker, l *logs) error {
	if err := dropPrivileges(c.user, c.group); err != nil {
		return err
	}
	// Parallelism across cores comes from the workers: each takes its
	// share of the CPUs for its Go side.
	if os.Getenv("GOMAXPROCS") == "" {
		procs := runtime.GOMAXPROCS(0)
		if w.Workers > 1 {
			procs = max(1, (runtime.NumCPU()+w.Workers-1)/w.Workers)
		}
		// Python threads wait (in Python, for the GIL, in the loop) in
		// the kernel, each holding a Go processor while it does: with
		// several, a second processor lets the one that is ready run its
		// Go side at once, instead of waiting for the runtime to take the
		// processor back.
		if c.threads > 1 {
			procs = max(procs, 2)
		}
		runtime.GOMAXPROCS(procs)
	}
	path, err := setUpProcess(c)
	if err != nil {
		return err
	}
	prepareWorker(c)
	listeners, err := listen.Listeners(w.Sockets)
	if err != nil {
		return err
	}
	maxRequests := c.maxRequests
	if maxRequests > 0 && c.maxJitter > 0 {
		maxRequests += rand.Int64N(c.maxJitter + 1)
	}
	opts := gowsgi.Options{
		App:              spec,
		Threads:          c.threads,
		QueueSize:        c.queueSize,
		QueueTimeout:     c.queueTimeout,
		ScriptName:       c.scriptName,
		LimitRequestBody: c.limitRequestBody,
		Multiprocess:     w.Workers > 1,
		Timeout:          time.Duration(c.timeout) * time.Second,
		MaxRequests:      maxRequests,
		Recycle:          w.Recycle,
		Logger:           l.log,
		Errors:           l.errors,
		AccessLogFormat:  c.accessLogformat,
		Validate:         c.validate,
		Debug:            c.dev.debug,
		Python:           gowsgi.PythonConfig{Virtualenv: c.virtualenv, Path: path, TimerSlack: w.PythonTimerSlack},
	}
	if l.access != nil {
		opts.AccessLog = l.access
	}
	app, err := gowsgi.New(opts)
	if err != nil {
		var le *gowsgi.LoadError
		if errors.As(err, &le) {
			l.log.Error("Failed to load application "+le.Spec, "traceback", le.Traceback)
			return exitError{exitAppLoad}
		}
		l.log.Error(err.Error())
		return exitError{exitConfig}
	}

	srv := &gowsgi.Server{
		App:       app,
		KeepAlive: time.Duration(c.keepAlive) * time.Second,
		Limits: h1.Limits{
			RequestLine: noLimitIfZero(c.limitLine),
			Fields:      noLimitIfZero(c.limitFields),
			FieldSize:   noLimitIfZero(c.limitFieldSize),
		},
	}
	all := newServers(srv)
	served := make(chan error, len(listeners))
	for _, ln := range listeners {
		go func(ln listen.Listener) { served <- all.serve(ln) }(ln)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	// Reloading and resizing are the master's: a worker must not die of them.
	signal.Ignore(syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU)
	orphaned := make(chan struct{})
	w.Heartbeat(func() { close(orphaned) })
	w.Ready()

	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				l.reopen()
				continue
			case syscall.SIGQUIT:
				os.Exit(0)
			}
		case <-orphaned:
			l.log.Warn("The master process is gone; stopping")
		case err := <-served:
			l.log.Error("Listener failed", "error", err)
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.gracefulTimeout)*time.Second)
	defer cancel()
	if err := all.shutdown(ctx); err != nil {
		// A request is still running (or stuck): Python cannot be stopped
		// under it. Exit without finalizing.
		l.log.Warn("Requests still running after --graceful-timeout were cut off")
		os.Exit(0)
	}
	app.Close()
	gowsgi.StopPython()
	return nil
}

// setUpProcess applies --env and --chdir to this process, which is about
// to start Python, and returns what goes in front of sys.path.
func setUpProcess(c *config) ([]string, error) {
	for _, kv := range c.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: expected KEY=VALUE", kv)
		}
		os.Setenv(k, v)
	}
	if c.chdir != "" {
		if err := os.Chdir(c.chdir); err != nil {
			return nil, fmt.Errorf("--chdir: %w", err)
		}
	}
	return pythonPath(c.pythonpath)
}

// pythonPath is what goes in front of sys.path: the --pythonpath entries,
// then the working directory (after --chdir), as gunicorn arranges it.
func pythonPath(list string) ([]string, error) {
	var path []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		path = append(path, abs)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return append(path, wd), nil
}

// noLimitIfZero: on the command line 0 means "no limit", as in gunicorn;
// for Server it means "the default".
func noLimitIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// monitorSlack is the timer slack of the workers' Go runtime monitor (see
// internal/master/timerslack.go): Python calls shorter than about this keep
// their processor. Only with one Python thread: with several, a thread
// blocked in Python (a query, a sleep) must hand its processor over within
// microseconds for the others to run, which is what the monitor's quick
// rounds do.
func monitorSlack(threads int) time.Duration {
	if threads == 1 {
		return time.Millisecond
	}
	return 0
}
