package main

import (
	"errors"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/master"
	"github.com/gowsgi/gowsgi/internal/pyhooks"
)

// Server hooks run where gunicorn runs them: the master's (on_starting,
// on_reload, when_ready, pre_fork, pre_exec, child_exit, nworkers_changed,
// on_exit) in the helper process that read the configuration file, which
// the master asks and waits for; the workers' (post_fork,
// post_worker_init, worker_int, worker_abort, pre_request, post_request,
// worker_exit) in each worker's own interpreter, which runs the
// configuration file again to find them.

// masterHooks runs the master's hooks through its helper. It is a
// master.Hooks; with no hook defined, it does nothing.
type masterHooks struct {
	h       *helper
	log     *slog.Logger
	defined map[string]bool
	server  map[string]any // what the server object always says
}

// adopt takes the master's hooks of r, whose helper read the Python file
// (a helper is started for the dotted names of a TOML file), and stops
// the helper of the hooks it had. The helper is the hooks' from then on.
func (m *masterHooks) adopt(r *resolved) error {
	defined := map[string]bool{}
	dotted := map[string]string{}
	for name, def := range r.hooks {
		if config.IsMasterHook(name) {
			defined[name] = true
			dotted[name] = def
		}
	}
	old := m.h
	defer func() {
		if old != nil && old != m.h {
			old.close()
		}
	}()
	if len(defined) == 0 {
		r.close()
		m.h, m.defined = nil, nil
		return nil
	}
	fromFile := r.file != nil && !strings.HasSuffix(r.file.Path, ".toml")
	if !fromFile {
		h, _, err := readPythonConfig("", r.s)
		if err != nil {
			return err
		}
		r.helper = h
	}
	wd, _ := os.Getwd()
	server := map[string]any{"pid": os.Getpid(), "address": r.s.binds, "proc_name": procName(r),
		"timeout": r.s.timeout, "argv": os.Args, "cwd": wd}
	init := map[string]any{"cfg": r.cfgValues(), "hooks": hookArities(), "server": server,
		"startdir": wd, "errorlog": r.s.errorLogfile, "loglevel": r.s.logLevel}
	if fromFile {
		init["path"] = r.file.Path
	} else {
		init["dotted"] = dotted
	}
	if err := r.helper.do("init", init, nil); err != nil {
		r.close()
		return err
	}
	m.h, m.defined, m.server = r.helper, defined, server
	r.helper = nil
	return nil
}

// close stops the helper.
func (m *masterHooks) close() {
	if m.h != nil {
		m.h.close()
		m.h = nil
	}
}

// pid is the helper's process ID.
func (m *masterHooks) pid() int {
	if m.h == nil {
		return 0
	}
	return m.h.cmd.Process.Pid
}

// signal passes a signal to the helper (SIGUSR1: reopen the log).
func (m *masterHooks) signal(sig os.Signal) {
	if m.h != nil {
		m.h.cmd.Process.Signal(sig)
	}
}

// procName is gunicorn's proc_name: --name, else the application.
func procName(r *resolved) string {
	if r.s.name != "" {
		return r.s.name
	}
	return r.spec
}

// run calls a hook and waits for it. A hook that raises is logged; run
// returns the error for the moments when it stops the server.
func (m *masterHooks) run(name string, s master.State, w *master.WorkerInfo, args ...any) error {
	if m == nil || !m.defined[name] || m.h == nil {
		return nil
	}
	server := map[string]any{}
	for k, v := range m.server {
		server[k] = v
	}
	server["pid"], server["num_workers"], server["worker_age"] = s.PID, s.NumWorkers, s.WorkerAge
	workers := make([]map[string]any, 0, len(s.Workers))
	for _, wi := range s.Workers {
		workers = append(workers, workerState(wi))
	}
	server["workers"] = workers
	arg := map[string]any{"hook": name, "server": server, "args": args}
	if w != nil {
		arg["worker"] = workerState(*w)
	}
	err := m.h.do("call", arg, nil)
	if err != nil {
		m.log.Error("Exception in "+name+" hook", "traceback", err.Error())
	}
	return err
}

func workerState(w master.WorkerInfo) map[string]any {
	st := map[string]any{"age": w.Age, "ppid": os.Getpid()}
	if w.PID > 0 {
		st["pid"] = w.PID
	}
	return st
}

func (m *masterHooks) PreFork(s master.State, w master.WorkerInfo)   { m.run("pre_fork", s, &w) }
func (m *masterHooks) ChildExit(s master.State, w master.WorkerInfo) { m.run("child_exit", s, &w) }
func (m *masterHooks) Reloading(s master.State)                      { m.run("on_reload", s, nil) }
func (m *masterHooks) NumWorkersChanged(s master.State, now, before int) {
	var old any = before
	if before == 0 {
		old = nil // at start, as gunicorn's first call
	}
	m.run("nworkers_changed", s, nil, now, old)
}

// names lists the hooks defined, for the log.
func (m *masterHooks) names() string {
	var out []string
	for n := range m.defined {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// workerHooks runs a worker's hooks in its own interpreter; nil when the
// configuration defines none.
type workerHooks struct {
	log     *slog.Logger
	defined map[string]bool
	state   map[string]any
	server  map[string]any
}

// startWorkerHooks loads the worker's hooks: Python runs already. With
// pre_request or post_request among them, the application is loaded
// wrapped (loader.py).
func startWorkerHooks(p processSettings, age int, timeout int, maxRequests int64, log *slog.Logger) (*workerHooks, error) {
	if len(p.Hooks) == 0 {
		return nil, nil
	}
	pyhooks.Log = pythonLog(log)
	if err := pyhooks.Start(); err != nil {
		return nil, err
	}
	h := &workerHooks{log: log, defined: map[string]bool{}}
	dotted := map[string]string{}
	for name, def := range p.Hooks {
		h.defined[name] = true
		if def != "" {
			dotted[name] = def
		}
	}
	h.state = map[string]any{"pid": os.Getpid(), "ppid": os.Getppid(), "age": age, "timeout": timeout,
		"max_requests": maxRequests, "booted": false, "alive": true}
	h.server = map[string]any{"pid": os.Getppid()}
	arities := map[string]any{}
	for _, hk := range config.Hooks {
		if !hk.Master && h.defined[hk.Name] {
			arities[hk.Name] = hk.Arity
		}
	}
	init := map[string]any{"cfg": p.Cfg, "hooks": arities, "dotted": dotted, "startdir": p.StartDir,
		"server": h.server, "worker": h.state}
	if p.ConfigFile != "" {
		init["path"] = p.ConfigFile
	}
	if err := pyhooks.Call("init", init, nil); err != nil {
		return nil, err
	}
	return h, nil
}

// call runs a worker hook; its error is logged and returned.
func (h *workerHooks) call(name string) error {
	if h == nil || !h.defined[name] {
		return nil
	}
	err := pyhooks.Call("call", map[string]any{"hook": name, "server": h.server, "worker": h.state}, nil)
	if err != nil {
		var pe *pyhooks.Error
		if errors.As(err, &pe) {
			h.log.Error("Exception in "+name+" hook", "traceback", pe.Text)
		} else {
			h.log.Error("Exception in "+name+" hook", "error", err)
		}
	}
	return err
}

// set changes what the worker object says (booted, alive, aborted).
func (h *workerHooks) set(key string, v any) {
	if h != nil {
		h.state[key] = v
	}
}
