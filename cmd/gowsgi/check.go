package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/allow"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/proxyproto"
)

// check refuses, before anything is bound, the settings a worker could not
// use: a server that would start workers that die booting forever, its
// port open and answering nothing, instead stops at once with one line
// that says what is wrong.
func check(r *resolved, log *slog.Logger) error {
	s := r.s
	if err := gowsgi.CheckPythonLibrary(); err != nil {
		return err
	}
	if w := gowsgi.PythonLibraryWarning(); w != "" {
		log.Warn(w)
	}
	for _, c := range []struct {
		flag string
		n    int64
		min  int64
	}{
		{"workers", int64(s.workers), 1}, {"threads", int64(s.threads), 1}, {"timeout", int64(s.timeout), 0},
		{"graceful-timeout", int64(s.gracefulTimeout), 0}, {"keep-alive", int64(s.keepAlive), 0},
		{"limit-request-line", int64(s.limitLine), 0}, {"limit-request-fields", int64(s.limitFields), 0},
		{"limit-request-field_size", int64(s.limitFieldSize), 0}, {"limit-request-body", s.limitRequestBody, 0},
		{"queue-size", int64(s.queueSize), 1}, {"max-requests", s.maxRequests, 0},
		{"max-requests-jitter", s.maxJitter, 0}, {"max-worker-memory", s.maxWorkerMemory, 0},
		{"backlog", int64(s.backlog), 0}, {"cert-reqs", int64(s.certReqs), 0},
	} {
		if c.n < c.min {
			return fmt.Errorf("--%s %d%s: must be at least %d", c.flag, c.n, r.originNote(c.flag), c.min)
		}
	}
	if err := checkSpec(r.spec); err != nil {
		return err
	}
	if err := checkWorkerClass(s, log); err != nil {
		return err
	}
	for _, d := range []struct{ flag, dir string }{
		{"chdir", s.chdir}, {"worker-tmp-dir", s.workerTmpDir}, {"tmp-upload-dir", s.tmpUploadDir},
	} {
		if d.dir == "" {
			continue
		}
		if fi, err := os.Stat(d.dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--%s %s%s: no such directory", d.flag, d.dir, r.originNote(d.flag))
		}
	}
	venv := s.virtualenv
	if venv == "" {
		venv = os.Getenv("VIRTUAL_ENV")
	}
	if venv != "" {
		if _, err := gowsgi.PythonExecutable(venv); err != nil {
			return fmt.Errorf("--virtualenv: %s", strings.TrimPrefix(err.Error(), "gowsgi: "))
		}
	}
	for _, kv := range s.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--env %q: expected KEY=VALUE", kv)
		}
	}
	if s.accessLogformat != "" {
		if err := gowsgi.CheckAccessLogFormat(s.accessLogformat); err != nil {
			return fmt.Errorf("--access-logformat: %s", strings.TrimPrefix(err.Error(), "gowsgi: access log format: "))
		}
	}
	if _, err := logging.ParseLevel(s.logLevel); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	for _, l := range []struct{ flag, list string }{
		{"forwarded-allow-ips", s.forwardedAllowIPs}, {"uwsgi-allow-from", s.uwsgiAllowFrom},
		{"proxy-allow-from", s.proxyAllowFrom},
	} {
		if _, err := allow.Parse(l.list); err != nil {
			return fmt.Errorf("--%s: %w", l.flag, err)
		}
	}
	for name := range s.secureSchemeHeaders {
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			return fmt.Errorf("secure_scheme_headers: %q is not a header name", name)
		}
	}
	if _, err := proxyproto.ParseMode(s.proxyProtocol); err != nil {
		return fmt.Errorf("--proxy-protocol %w", err)
	}
	switch s.protocol {
	case "http", "uwsgi", "fcgi":
	default:
		return fmt.Errorf("--protocol %q: expected http, uwsgi or fcgi", s.protocol)
	}
	if _, err := socketMode(s.socketMode); err != nil {
		return err
	}
	if err := checkTLS(s); err != nil {
		return err
	}
	if _, _, err := lookupIDs(s.user, s.group); err != nil {
		return err
	}
	return nil
}

// originNote says where a bad value came from, unless the command line.
func (r *resolved) originNote(flag string) string {
	if o := r.origin(flag); o != fromCommandLine && o != fromDefault {
		return " (" + o + ")"
	}
	return ""
}

// checkSpec refuses application specs that cannot name a callable.
func checkSpec(spec string) error {
	module, expr, colon := strings.Cut(spec, ":")
	switch {
	case strings.TrimSpace(module) == "":
		return fmt.Errorf("application %q: no module before ':' (write MODULE:CALLABLE)", spec)
	case colon && strings.TrimSpace(expr) == "":
		return fmt.Errorf("application %q: nothing after ':' (write %s:CALLABLE, or %s for its \"application\")",
			spec, strings.TrimSpace(module), strings.TrimSpace(module))
	}
	return nil
}

// Worker classes: gunicorn's synchronous and threaded workers are what
// gowsgi's workers are; the others serve in ways gowsgi does not.
var threadedClasses = map[string]bool{
	"sync": true, "gthread": true,
	"gunicorn.workers.sync.SyncWorker": true, "gunicorn.workers.gthread.ThreadWorker": true,
	"egg:gunicorn#sync": true, "egg:gunicorn#gthread": true,
}

func checkWorkerClass(s *settings, log *slog.Logger) error {
	if threadedClasses[s.workerClass] {
		if s.workerClass != "sync" {
			log.Info(fmt.Sprintf("Worker class %s: each worker serves with %d Python thread(s) (--threads); "+
				"slow clients wait in Go, not in a thread", s.workerClass, s.threads))
		}
		return nil
	}
	return fmt.Errorf("--worker-class %s: gowsgi serves WSGI on Python threads, the way gunicorn's sync and "+
		"gthread workers do (accepted, both meaning --threads); it has no %s workers. Use --threads N for "+
		"concurrency (a slow client costs a socket in the event loop, not a thread); for an ASGI application use an ASGI "+
		"server such as uvicorn", s.workerClass, s.workerClass)
}

// socketMode reads --socket-mode.
func socketMode(v string) (os.FileMode, error) {
	if v == "" {
		return 0, nil
	}
	var mode uint32
	if _, err := fmt.Sscanf(v, "%o", &mode); err != nil || mode > 0o777 {
		return 0, fmt.Errorf("--socket-mode %q: expected octal permissions such as 660", v)
	}
	return os.FileMode(mode), nil
}

// checkTLS loads the certificate now, so that a wrong path is an error
// before the port opens.
func checkTLS(s *settings) error {
	if s.certfile == "" {
		if s.keyfile != "" || s.caCerts != "" || s.certReqs != 0 {
			return errors.New("--keyfile, --ca-certs and --cert-reqs need --certfile")
		}
		if s.httpProtocols != "h1" && s.httpProtocols != "" {
			return fmt.Errorf("--http-protocols %s: HTTP/2 is offered over TLS only (--certfile)", s.httpProtocols)
		}
		return nil
	}
	_, err := tlsConfig(s)
	return err
}

// envCheck marks the process --check-config and --print-config start to
// load the application (the master itself never starts Python).
const envCheck = "_GOWSGI_CHECK"

// checkApplication loads the application in a new process, as a worker
// would, and returns the exit status: 0 if it loads, 1 if not.
func checkApplication(r *resolved) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gowsgi:", err)
		return exitConfig
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{"gowsgi: check"}
	cmd.Env = append(os.Environ(), envCheck+"=1", r.forProcesses().env())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return exitConfig
		}
		fmt.Fprintln(os.Stderr, "gowsgi:", err)
		return exitConfig
	}
	return 0
}

// runCheck is that process.
func runCheck(string) int {
	os.Unsetenv(envCheck)
	s, p, err := receiveSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gowsgi:", err)
		return exitConfig
	}
	path, err := setUpProcess(s)
	if err == nil {
		_, err = gowsgi.New(gowsgi.Options{
			App:    p.App,
			Errors: os.Stderr,
			Logger: slog.New(logging.NewHandler(os.Stderr, slog.LevelWarn)),
			Python: gowsgi.PythonConfig{Virtualenv: s.virtualenv, Path: path, Argv: p.Argv},
		})
	}
	if err != nil {
		var le *gowsgi.LoadError
		if errors.As(err, &le) {
			fmt.Fprintf(os.Stderr, "\nError while loading the application %s:\n\n%s\n", le.Spec, strings.TrimRight(le.Traceback, "\n"))
		} else {
			fmt.Fprintln(os.Stderr, "gowsgi:", err)
		}
		return exitConfig
	}
	fmt.Fprintf(os.Stderr, "The configuration and the application %s load\n", p.App)
	return 0
}

// expandGlobs expands the glob patterns of --reload-extra-file, as
// gunicorn 26 does; a pattern that matches nothing is kept (the file may
// come).
func expandGlobs(files []string) []string {
	var out []string
	for _, f := range files {
		if !strings.ContainsAny(f, "*?[") {
			out = append(out, f)
			continue
		}
		matches, _ := filepath.Glob(f)
		if len(matches) == 0 {
			out = append(out, f)
		}
		out = append(out, matches...)
	}
	return out
}
