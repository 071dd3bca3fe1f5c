package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/pyhooks"
)

// The master is pure Go and never starts Python. What needs Python on its
// side, reading a Python configuration file and running the master's
// hooks (on_starting, when_ready, pre_fork, child_exit, ...), happens in a
// helper: the gowsgi binary run again with envHelper set, which starts the
// embedded interpreter, reads the file, and then runs hooks on request
// until the master closes its end.
const envHelper = "_GOWSGI_HELPER"

// helperSpec tells the helper what to read.
type helperSpec struct {
	Path       string `json:"path"`     // the configuration file
	StartDir   string `json:"startdir"` // where gowsgi started: relative imports of the file
	Virtualenv string `json:"virtualenv"`
	PythonPath string `json:"pythonpath"`
	ErrorLog   string `json:"errorlog"`
	LogLevel   string `json:"loglevel"`
	MasterPID  int    `json:"master_pid"`
}

// helper is the master's end of a helper process.
type helper struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	req  io.WriteCloser
	resp *bufio.Reader
	dead bool
}

// helperReply is a helper's answer: a result, or the text of an error.
type helperReply struct {
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
}

// readPythonConfig starts a helper that reads the configuration file at
// path (gunicorn's semantics: run as the module __config__).
func readPythonConfig(path string, s *settings) (*helper, *config.File, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	wd, _ := os.Getwd()
	spec, _ := json.Marshal(helperSpec{Path: path, StartDir: wd, Virtualenv: s.virtualenv, PythonPath: s.pythonpath,
		ErrorLog: s.errorLogfile, LogLevel: s.logLevel, MasterPID: os.Getpid()})
	replyR, replyW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		replyR.Close()
		replyW.Close()
		return nil, nil, err
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{"gowsgi: config helper"}
	cmd.Env = append(os.Environ(), envHelper+"="+string(spec))
	cmd.ExtraFiles = []*os.File{replyW, reqR}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Start()
	replyW.Close()
	reqR.Close()
	if err != nil {
		replyR.Close()
		reqW.Close()
		return nil, nil, err
	}
	h := &helper{cmd: cmd, req: reqW, resp: bufio.NewReader(replyR)}
	var f config.File
	if err := h.read(&f); err != nil {
		h.close()
		return nil, nil, err
	}
	return h, &f, nil
}

// read decodes the helper's next reply into out.
func (h *helper) read(out any) error {
	line, err := h.resp.ReadBytes('\n')
	if err != nil {
		h.dead = true
		h.cmd.Wait()
		return fmt.Errorf("the configuration helper process ended (%v)", h.cmd.ProcessState)
	}
	var r helperReply
	if err := json.Unmarshal(line, &r); err != nil {
		return err
	}
	if r.Error != nil {
		return errors.New(*r.Error)
	}
	if out == nil || len(r.Result) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(r.Result))
	d.UseNumber() // whole numbers stay whole: config.Normalize
	return d.Decode(out)
}

// do sends a request to the helper and waits for its reply.
func (h *helper) do(op string, arg any, out any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead {
		return errors.New("the hook helper process is gone")
	}
	b, err := json.Marshal(map[string]any{"op": op, "arg": arg})
	if err != nil {
		return err
	}
	if _, err := h.req.Write(append(b, '\n')); err != nil {
		h.dead = true
		return fmt.Errorf("the hook helper process is gone: %w", err)
	}
	return h.read(out)
}

// close ends the helper: it exits once its requests end.
func (h *helper) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.req.Close()
	if !h.dead {
		h.dead = true
		h.cmd.Wait()
	}
}

// runHelper is the helper process: it reads the configuration file, sends
// its settings, then runs the hooks the master asks for.
func runHelper(specJSON string) int {
	os.Unsetenv(envHelper)
	var spec helperSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "gowsgi: helper:", err)
		return 1
	}
	// The master decides when the helper ends (it closes the requests'
	// pipe): Ctrl-C, which the whole process group gets, or a signal
	// meant for the master must not end it before on_exit has run.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGWINCH)
	// SIGUSR1, from the master: reopen the log file, rotated.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	var logFile struct {
		sync.Mutex
		f *logging.File
	}
	go func() {
		for range usr1 {
			logFile.Lock()
			if logFile.f != nil {
				logFile.f.Reopen()
			}
			logFile.Unlock()
		}
	}()
	openLog := func() {
		log, f := helperLog(spec)
		logFile.Lock()
		logFile.f = f
		logFile.Unlock()
		pyhooks.Log = pythonLog(log)
	}
	out := os.NewFile(3, "replies")
	in := os.NewFile(4, "requests")
	reply := func(result any, err error) {
		r := map[string]any{"result": result}
		if err != nil {
			r = map[string]any{"error": err.Error()}
		}
		b, _ := json.Marshal(r)
		out.Write(append(b, '\n'))
	}
	openLog()
	path, err := pythonPath(spec.PythonPath)
	if err == nil {
		err = gowsgi.StartPython(gowsgi.PythonConfig{Virtualenv: spec.Virtualenv, Path: path})
	}
	if err != nil {
		reply(nil, err)
		return 1
	}
	defer gowsgi.StopPython()
	if spec.Path == "" {
		// Only hooks to run, named in a TOML file.
		reply(config.File{}, nil)
	} else {
		var f struct {
			Values  map[string]json.RawMessage `json:"values"`
			Hooks   map[string]string          `json:"hooks"`
			Unknown []string                   `json:"unknown"`
		}
		err = pyhooks.Call("read_config", map[string]any{
			"path": spec.Path, "startdir": spec.StartDir, "settings": settingNames(), "hooks": hookArities(),
		}, &f)
		if err != nil {
			reply(nil, err)
			return 1
		}
		values := make(map[string]any, len(f.Values))
		for k, raw := range f.Values {
			values[k] = decodeJSON(raw)
		}
		reply(config.File{Path: spec.Path, Values: values, Hooks: f.Hooks, Unknown: f.Unknown}, nil)
	}

	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var req struct {
			Op  string          `json:"op"`
			Arg json.RawMessage `json:"arg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			reply(nil, err)
			continue
		}
		if req.Op == "init" {
			// The log the configuration settles on, now it is read.
			var l struct {
				ErrorLog string `json:"errorlog"`
				LogLevel string `json:"loglevel"`
			}
			if json.Unmarshal(req.Arg, &l) == nil && l.ErrorLog != "" {
				spec.ErrorLog, spec.LogLevel = l.ErrorLog, l.LogLevel
				openLog()
			}
		}
		var result any
		err := pyhooks.Call(req.Op, json.RawMessage(req.Arg), &result)
		reply(result, err)
	}
	return 0
}

// helperLog writes what master hooks log (server.log) to the server's
// error log, under the master's process ID, as gunicorn's lines would be.
func helperLog(spec helperSpec) (*slog.Logger, *logging.File) {
	level, err := logging.ParseLevel(spec.LogLevel)
	if err != nil {
		level = slog.LevelInfo
	}
	f, err := logging.Open(spec.ErrorLog, os.Stderr)
	if err != nil {
		f, _ = logging.Open("-", os.Stderr)
	}
	h := logging.NewHandler(f, level)
	if spec.MasterPID > 0 {
		h = h.WithPID(spec.MasterPID)
	}
	return slog.New(h), f
}

// pythonLog maps Python's logging levels onto the error log's.
func pythonLog(log *slog.Logger) func(level int, text string) {
	return func(level int, text string) {
		var l slog.Level
		switch {
		case level >= 50:
			l = logging.LevelCritical
		case level >= 40:
			l = slog.LevelError
		case level >= 30:
			l = slog.LevelWarn
		case level >= 20:
			l = slog.LevelInfo
		default:
			l = slog.LevelDebug
		}
		log.Log(context.Background(), l, text)
	}
}

// settingNames are the names a configuration file may set (hooks apart).
func settingNames() []string {
	var names []string
	for _, s := range config.All {
		if s.Kind != config.Hook {
			names = append(names, s.Name)
		}
	}
	return names
}

// hookArities maps every hook name to the number of arguments gunicorn
// calls it with (null: one gowsgi does not run, whatever it takes).
func hookArities() map[string]any {
	m := map[string]any{}
	for _, s := range config.All {
		if s.Kind == config.Hook {
			m[s.Name] = nil
		}
	}
	for _, h := range config.Hooks {
		m[h.Name] = h.Arity
	}
	return m
}

func decodeJSON(raw json.RawMessage) any {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return nil
	}
	return config.Normalize(v)
}
