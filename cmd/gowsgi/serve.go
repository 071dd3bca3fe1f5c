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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/allow"
	"github.com/gowsgi/gowsgi/internal/listen"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/master"
)

// logs are the error and access logs of a process.
type logs struct {
	log     *slog.Logger
	errors  *logging.File
	access  *logging.File // nil without --access-logfile
	capture bool          // --capture-output: stdout and stderr go to the error log file
}

func (l *logs) reopen() {
	l.errors.Reopen()
	if l.access != nil {
		l.access.Reopen()
	}
	if l.capture {
		l.errors.Capture()
	}
}

func openLogs(s *settings) (*logs, error) {
	level, err := logging.ParseLevel(s.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	l := &logs{}
	if l.errors, err = logging.Open(s.errorLogfile, os.Stderr); err != nil {
		return nil, fmt.Errorf("--error-logfile: %w", err)
	}
	l.log = slog.New(logging.NewHandler(l.errors, level))
	if s.accessLogfile != "" {
		if l.access, err = logging.Open(s.accessLogfile, os.Stdout); err != nil {
			return nil, fmt.Errorf("--access-logfile: %w", err)
		}
	}
	if s.captureOutput {
		l.capture = true
		if err := l.errors.Capture(); err != nil {
			return nil, fmt.Errorf("--capture-output: %w", err)
		}
	}
	return l, nil
}

// serve is the serve and demo commands: it resolves the settings, checks
// them, and runs the master, or prints and checks the configuration.
func serve(fs *pflag.FlagSet, s *settings, spec string) error {
	r, err := resolve(fs, s, spec)
	if err != nil {
		return err
	}
	defer r.close()
	if s.name != "" && !s.checkConfig && !s.printConfig && !titled(s.name) {
		r.close() // the process starts again, under its title
		return fmt.Errorf("--name: %w", retitleMaster(s.name))
	}
	os.Unsetenv(envTitled)
	l, err := openLogs(s)
	if err != nil {
		return err
	}
	for _, n := range r.notes {
		l.log.Info(n)
	}
	for _, w := range r.warns {
		l.log.Warn(w)
	}
	if err := check(r, l.log); err != nil {
		return err
	}
	if s.printConfig {
		printConfig(os.Stdout, r)
	}
	if s.printConfig || s.checkConfig {
		if code := checkApplication(r); code != 0 {
			return exitError{code}
		}
		return nil
	}
	return runMaster(r, l, cliArgs())
}

// cliArgs are the arguments of the serve command as the user typed them,
// to read the settings again on a reload.
func cliArgs() []string {
	args := os.Args[1:]
	if isSubcommand(args) {
		args = args[1:]
	}
	return args
}

// runMaster binds the sockets (or takes systemd's), drops privileges, and
// supervises the workers. It never starts Python: its hooks run in the
// helper process.
func runMaster(r *resolved, l *logs, args []string) (err error) {
	s := r.s
	// Before anything is bound: a SIGTERM during start-up stops the server
	// the usual way instead of killing it with its pid and socket files.
	sigs := master.CatchSignals()
	defer signal.Stop(sigs)

	hooks := &masterHooks{log: l.log}
	if err := hooks.adopt(r); err != nil {
		return err
	}
	defer hooks.close()
	if names := hooks.names(); names != "" {
		l.log.Info("Server hooks of the master: " + names + " (run by the helper process " + fmt.Sprint(hooks.pid()) + ")")
	}
	state := master.State{PID: os.Getpid(), NumWorkers: s.workers}
	hooks.run("nworkers_changed", state, nil, s.workers, nil)

	reloader, err := startReloader(s, r, l.log)
	if err != nil {
		return err
	}
	var changes <-chan []string
	if reloader != nil {
		defer reloader.Close()
		changes = reloader.Changes()
	}

	inherited, parent := master.Inherited()
	pid := newPidFile(s.pidFile, parent, l.log)
	var sockets []listen.Socket
	var upgrading atomic.Bool
	// At the end, as gunicorn: the sockets closed, the pid file removed,
	// then on_exit. While a new master (SIGUSR2) runs, the Unix socket
	// files are its own.
	started := false
	defer func() {
		for _, sock := range sockets {
			if upgrading.Load() {
				sock.Release()
			} else {
				sock.Close()
			}
		}
		if started {
			pid.remove()
			hooks.run("on_exit", master.State{PID: os.Getpid()}, nil)
		}
	}()
	if err := pid.write(); err != nil {
		return err
	}
	started = true
	if err := hooks.run("on_starting", state, nil); err != nil {
		return exitError{exitConfig}
	}
	if inherited > 0 {
		l.log.Info(fmt.Sprintf("Using %d socket(s) of the master %d (SIGUSR2)", inherited, parent))
		sockets, err = listen.Adopt(inherited)
	} else {
		sockets, err = openSockets(s, l.log)
	}
	if err != nil {
		return err
	}
	l.log.Info("Starting gowsgi " + gowsgi.Version + " (Python " + strings.Fields(gowsgi.PythonVersion())[0] + ")")
	files := make([]*os.File, len(sockets))
	for i, sock := range sockets {
		name := sock.Name
		if s.certfile != "" && sock.Protocol == listen.HTTP {
			name = strings.Replace(name, "http://", "https://", 1)
		}
		l.log.Info("Listening at: " + name + " (" + fmt.Sprint(os.Getpid()) + ")")
		files[i] = sock.File
	}
	l.log.Info(fmt.Sprintf("Application %s: %d worker(s) of %d Python thread(s)", r.spec, s.workers, s.threads))
	if s.preload {
		l.log.Info("--preload: the first worker imports the application before the others start " +
			"(workers are new processes, not forks: they share no memory)")
	}
	if err := hooks.run("when_ready", state, nil); err != nil {
		return exitError{exitConfig}
	}
	status := master.Run(master.Config{
		Workers:         s.workers,
		Sockets:         files,
		Argv:            workerTitle(s.name),
		Env:             []string{listen.WorkerEnv(sockets), r.forProcesses().env()},
		GracefulTimeout: time.Duration(s.gracefulTimeout) * time.Second,
		SilentTimeout:   max(30*time.Second, 2*time.Duration(s.timeout)*time.Second),
		MaxWorkerMemory: s.maxWorkerMemory << 20,
		Log:             l.log,
		ReopenLogs: func() {
			l.reopen()
			hooks.signal(syscall.SIGUSR1)
		},
		Changes:      changes,
		MonitorSlack: monitorSlack(s.threads),
		Signals:      sigs,
		Preload:      s.preload,
		Hooks:        hooks,
		Reconfigure:  reconfigure(r, hooks, sockets, args, l.log),
		MasterArgv:   os.Args,
		MasterEnv:    []string{listen.WorkerEnv(sockets)},
		PreExec:      func() { hooks.run("pre_exec", master.State{PID: os.Getpid(), NumWorkers: s.workers}, nil) },
		Upgrading:    &upgrading,
		Parent:       parent,
	})
	l.log.Info("Shutdown complete")
	if status != 0 {
		return exitError{status}
	}
	return nil
}

// openSockets binds --bind (or takes systemd's sockets).
func openSockets(s *settings, log *slog.Logger) ([]listen.Socket, error) {
	mode, _ := socketMode(s.socketMode)
	uid, gid, err := lookupIDs(s.user, s.group)
	if err != nil {
		return nil, err
	}
	opts := listen.Options{ReusePort: s.reusePort, SocketMode: mode, Backlog: s.backlog, Umask: int(s.umask), UID: uid, GID: gid}
	var sockets []listen.Socket
	if files := activation.Files(true); len(files) > 0 {
		log.Info(fmt.Sprintf("Using %d socket(s) from systemd socket activation", len(files)))
		for _, f := range files {
			sock, err := listen.FromFile(f)
			if err != nil {
				return sockets, err
			}
			sockets = append(sockets, sock)
		}
		return sockets, nil
	}
	for _, b := range s.binds {
		if s.protocol != "http" && !strings.Contains(b, "://") && !strings.HasPrefix(b, "fcgi:") && !strings.HasPrefix(b, "uwsgi:") {
			b = protocolBind(s.protocol, b)
		}
		more, err := listen.Open(b, opts)
		if err != nil {
			return sockets, err
		}
		sockets = append(sockets, more...)
	}
	return sockets, nil
}

// protocolBind gives an address the protocol of --protocol.
func protocolBind(protocol, b string) string {
	if rest, ok := strings.CutPrefix(b, "unix:"); ok {
		return protocol + ":unix:" + rest
	}
	return protocol + "://" + b
}

// reconfigure reads the configuration again for a reload (SIGHUP, or a
// change under --reload), as gunicorn does: the new workers get what it
// says now. What the master itself holds (its sockets, the pid file, the
// users) stays until a restart, which the log says.
func reconfigure(r *resolved, hooks *masterHooks, sockets []listen.Socket, args []string, log *slog.Logger) func() ([]string, int, error) {
	return func() ([]string, int, error) {
		var s settings
		fs := pflag.NewFlagSet("gowsgi", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		addServeFlags(fs, &s)
		if err := fs.Parse(args); err != nil {
			return nil, 0, err
		}
		next, err := resolve(fs, &s, r.spec)
		if err != nil {
			return nil, 0, err
		}
		if err := check(next, log); err != nil {
			next.close()
			return nil, 0, err
		}
		for _, flag := range []string{"bind", "user", "group", "pid", "reuse-port", "backlog", "umask",
			"socket-mode", "name", "error-logfile", "capture-output", "protocol", "reload", "preload"} {
			if a, b := r.fs.Lookup(flag), next.fs.Lookup(flag); a != nil && b != nil && a.Value.String() != b.Value.String() {
				log.Warn(fmt.Sprintf("--%s changed to %s: it takes effect when the server restarts", flag, b.Value.String()))
			}
		}
		for _, w := range next.warns {
			log.Warn(w)
		}
		// The helper that read the file anew runs the hooks from now on.
		if err := hooks.adopt(next); err != nil {
			log.Error("The hooks of the configuration read again cannot run; the master keeps those it has", "error", err)
		}
		next.close()
		return []string{listen.WorkerEnv(sockets), next.forProcesses().env()}, s.workers, nil
	}
}

// runWorkerProcess is a worker: its settings come from the master.
func runWorkerProcess(w *master.Worker) int {
	s, p, err := receiveSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gowsgi: worker:", err)
		return exitBoot
	}
	l, err := openLogs(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gowsgi: worker:", err)
		return exitBoot
	}
	return runWorker(s, p, w, l)
}

// runWorker loads the application and serves the sockets the master
// passed, until the master says stop. A failure before it serves is a
// boot error (exit status 3, which stops the server) or, for the
// application's import, status 4.
func runWorker(s *settings, p processSettings, w *master.Worker, l *logs) int {
	bootFailed := func(err error) int {
		l.log.Error("Worker failed to boot: " + err.Error())
		return exitBoot
	}
	// From the start: a signal the Go runtime gets before Notify is
	// dropped (SIGUSR1 while the application loads: the logs would never
	// be reopened). They wait here until the worker serves.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGABRT)
	// Reloading and resizing are the master's: a worker must not die of them.
	signal.Ignore(syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGWINCH)
	if err := dropPrivileges(s.user, s.group, s.initgroups); err != nil {
		return bootFailed(err)
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
		if s.threads > 1 {
			procs = max(procs, 2)
		}
		runtime.GOMAXPROCS(procs)
	}
	l.log.Debug("Go processors of the worker", "GOMAXPROCS", runtime.GOMAXPROCS(0))
	path, err := setUpProcess(s)
	if err != nil {
		return bootFailed(err)
	}
	prepareWorker(s)
	listeners, err := listen.Listeners(w.Sockets)
	if err != nil {
		return bootFailed(err)
	}
	uwsgiPeers, err := allow.Parse(s.uwsgiAllowFrom)
	if err != nil {
		return bootFailed(err)
	}
	for i := range listeners {
		if listeners[i].Protocol == listen.UWSGI {
			listeners[i] = listen.Filter(listeners[i], uwsgiPeers, l.log)
		}
	}
	maxRequests := s.maxRequests
	if maxRequests > 0 && s.maxJitter > 0 {
		maxRequests += rand.Int64N(s.maxJitter + 1)
	}
	pyConfig := gowsgi.PythonConfig{Virtualenv: s.virtualenv, Path: path, TimerSlack: w.PythonTimerSlack, Argv: p.Argv}
	var hooks *workerHooks
	if len(p.Hooks) > 0 {
		// The hooks before the application: post_fork runs before it is
		// imported, and pre_request needs the module the loader wraps with.
		if err := gowsgi.StartPython(pyConfig); err != nil {
			return bootFailed(err)
		}
		if hooks, err = startWorkerHooks(p, w.ID, s.timeout, maxRequests, l.log); err != nil {
			return bootFailed(err)
		}
		if hooks.call("post_fork") != nil {
			return exitBoot
		}
	}
	opts := gowsgi.Options{
		App:                 p.App,
		Threads:             s.threads,
		Dedicated:           true,
		QueueSize:           s.queueSize,
		QueueTimeout:        queueTimeout(s.queueTimeout),
		ScriptName:          s.scriptName,
		LimitRequestBody:    noLimitIfZero64(s.limitRequestBody),
		BodyBufferSize:      s.bodyBufferSize,
		SendTimeout:         s.sendTimeout,
		BodyTimeout:         s.bodyTimeout,
		BufferMemory:        noLimitIfZero64(s.bufferMemory),
		UploadDiskLimit:     noLimitIfZero64(s.tmpUploadLimit),
		Multiprocess:        w.Workers > 1,
		Timeout:             time.Duration(s.timeout) * time.Second,
		MaxRequests:         maxRequests,
		Recycle:             w.Recycle,
		Logger:              l.log,
		Errors:              l.errors,
		AccessLogFormat:     s.accessLogformat,
		Validate:            s.validate,
		Debug:               s.dev.debug,
		ForwardedAllowIPs:   strings.Split(s.forwardedAllowIPs, ","),
		SecureSchemeHeaders: s.secureSchemeHeaders,
		TempDir:             s.tmpUploadDir,
		Python:              pyConfig,
	}
	if l.access != nil {
		opts.AccessLog = l.access
	}
	app, err := gowsgi.New(opts)
	if err != nil {
		var le *gowsgi.LoadError
		if errors.As(err, &le) {
			l.log.Error("Failed to load application "+le.Spec, "traceback", le.Traceback)
			return exitAppLoad
		}
		return bootFailed(err)
	}
	if hooks.call("post_worker_init") != nil {
		return exitBoot
	}
	hooks.set("booted", true)
	tlsConf, err := tlsConfig(s)
	if err != nil {
		return bootFailed(err)
	}

	srv := &gowsgi.Server{
		App:         app,
		KeepAlive:   time.Duration(s.keepAlive) * time.Second,
		SendTimeout: s.sendTimeout, BodyTimeout: s.bodyTimeout,
		MaxConnections: noLimitIfZero(s.maxConnections),
		Limits: gowsgi.Limits{
			RequestLine: noLimitIfZero(s.limitLine),
			Fields:      noLimitIfZero(s.limitFields),
			FieldSize:   noLimitIfZero(s.limitFieldSize),
		},
		ProxyProtocol:  s.proxyProtocol,
		ProxyAllowFrom: strings.Split(s.proxyAllowFrom, ","),
	}
	if w.BoardErr != nil {
		l.log.Warn("no seat on the workers' balance board: this worker takes every connection it is woken for", "error", w.BoardErr)
	}
	all := newServers(srv, s.fcgiIdle, tlsConf, l.log)
	served := make(chan error, len(listeners))
	for _, ln := range listeners {
		go func(ln listen.Listener) { served <- all.serve(ln) }(ln)
	}

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
			case syscall.SIGINT:
				hooks.call("worker_int")
			case syscall.SIGQUIT:
				hooks.call("worker_int")
				hooks.set("alive", false)
				hooks.call("worker_exit")
				os.Exit(0)
			case syscall.SIGABRT:
				// The master found the worker stuck (gunicorn's WORKER TIMEOUT).
				l.log.Error("Worker aborted (pid " + fmt.Sprint(os.Getpid()) + ")")
				hooks.set("aborted", true)
				hooks.call("worker_abort")
				hooks.set("alive", false)
				hooks.call("worker_exit")
				os.Exit(1)
			}
		case <-orphaned:
			l.log.Warn("The master process is gone; stopping")
		case err := <-served:
			l.log.Error("Listener failed", "error", err)
		}
		break
	}
	hooks.set("alive", false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.gracefulTimeout)*time.Second)
	defer cancel()
	if err := all.shutdown(ctx); err != nil {
		// A request is still running (or stuck): Python cannot be stopped
		// under it. Exit without finalizing.
		l.log.Warn("Requests still running after --graceful-timeout were cut off")
		hooks.call("worker_exit")
		os.Exit(0)
	}
	hooks.call("worker_exit")
	app.Close()
	gowsgi.StopPython()
	return 0
}

// queueTimeout: on the command line 0 means no limit; for Options,
// negative does.
func queueTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// setUpProcess applies --env and --chdir to this process, which is about
// to start Python, and returns what goes in front of sys.path.
func setUpProcess(s *settings) ([]string, error) {
	for _, kv := range s.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: expected KEY=VALUE", kv)
		}
		os.Setenv(k, v)
	}
	if s.chdir != "" {
		if err := os.Chdir(s.chdir); err != nil {
			return nil, fmt.Errorf("--chdir: %w", err)
		}
	}
	return pythonPath(s.pythonpath)
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

// noLimitIfZero64 is noLimitIfZero for byte counts: 0 on the command line
// means no limit, in Options a default.
func noLimitIfZero64(n int64) int64 {
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
