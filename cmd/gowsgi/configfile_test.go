package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// hooksConf is a gunicorn configuration file as its users write them:
// settings computed in Python, helper names, and every server hook, each
// writing what it saw to $HOOKS_LOG.
const hooksConf = `import multiprocessing
import os

workers = 2
threads = multiprocessing.cpu_count() and 2
raw_env = ["FROM_CONFIG=yes"]
accesslog = "-"
_log_path = os.environ["HOOKS_LOG"]


def _log(*args):
    with open(_log_path, "a") as f:
        f.write(" ".join(str(a) for a in args) + "\n")


def on_starting(server):
    _log("on_starting", server.pid, server.cfg.workers, server.cfg.threads, os.environ.get("FROM_CONFIG"))


def when_ready(server):
    server.log.info("when_ready says hello")
    _log("when_ready", server.pid, sorted(server.cfg.bind))


def pre_fork(server, worker):
    worker.forked_by_hook = "marked"
    _log("pre_fork", worker.age, worker.pid)


def post_fork(server, worker):
    _log("post_fork", worker.age, worker.pid == os.getpid(), server.pid, os.environ.get("FROM_CONFIG"))


def post_worker_init(worker):
    _log("post_worker_init", worker.age, worker.pid, worker.wsgi is not None or "no-wsgi")


def pre_request(worker, req):
    _log("pre_request", worker.pid, req.method, req.path, req.query, dict(req.headers).get("X-TEST"))


def post_request(worker, req, environ, resp):
    _log("post_request", worker.pid, req.path, environ["PATH_INFO"], resp.status, resp.status_code, resp.sent, worker.nr)


def worker_int(worker):
    _log("worker_int", worker.pid)


def worker_abort(worker):
    _log("worker_abort", worker.pid)


def worker_exit(server, worker):
    _log("worker_exit", worker.pid, worker.alive)


def child_exit(server, worker):
    _log("child_exit", worker.age, worker.pid, getattr(worker, "forked_by_hook", "-"), worker.pid in server.WORKERS)


def nworkers_changed(server, new, old):
    _log("nworkers_changed", new, old)


def on_reload(server):
    _log("on_reload", server.pid)


def on_exit(server):
    _log("on_exit", server.pid)
`

// logHelper starts a configuration file whose hooks write to $HOOKS_LOG
// with _log(...).
const logHelper = "import os\n" +
	"def _log(*a):\n    open(os.environ['HOOKS_LOG'], 'a').write(' '.join(map(str, a)) + '\\n')\n"

// hookLines reads the hooks' log: one line per call.
func hookLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func waitHook(t *testing.T, path, prefix string, n int) []string {
	t.Helper()
	var found []string
	waitFor(t, fmt.Sprintf("%d %q hook lines", n, prefix), func() bool {
		found = nil
		for _, l := range hookLines(path) {
			if strings.HasPrefix(l, prefix) {
				found = append(found, l)
			}
		}
		return len(found) >= n
	})
	return found
}

// A gunicorn.conf.py with every hook: each is called at gunicorn's moment
// with gunicorn's arguments, the master's in the helper, the workers' in
// each worker, and the settings of the file apply (below the command
// line).
func TestGunicornConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "gunicorn.conf.py")
	logPath := filepath.Join(dir, "hooks.log")
	writeFile(t, conf, hooksConf)
	s := testutil.Start(t, testutil.Options{Env: []string{"HOOKS_LOG=" + logPath}},
		"-c", conf, "--pythonpath", ".", "conformance:environ")
	master := strconv.Itoa(s.PID())
	waitHook(t, logPath, "post_worker_init", 2)
	lines := hookLines(logPath)
	order := func(names ...string) {
		t.Helper()
		at := 0
		for _, l := range lines {
			if at < len(names) && (l == names[at] || strings.HasPrefix(l, names[at]+" ")) {
				at++
			}
		}
		if at < len(names) {
			t.Errorf("hooks not in the order %v:\n%s", names, strings.Join(lines, "\n"))
		}
	}
	order("nworkers_changed 2 None", "on_starting", "when_ready", "pre_fork 1 [booting]", "pre_fork 2 [booting]")
	if !slices.Contains(lines, "on_starting "+master+" 2 2 yes") {
		t.Errorf("on_starting(server): server.pid is the master's, cfg the file's, raw_env set:\n%s", strings.Join(lines, "\n"))
	}
	if !s.WaitLog("["+master+"] [INFO] when_ready says hello", 10*time.Second) {
		t.Errorf("server.log writes to the error log, as the master:\n%s", s.Log)
	}
	workers := s.WaitWorkers(2, 30*time.Second)
	for _, l := range waitHook(t, logPath, "post_fork", 2) {
		if !strings.HasSuffix(l, " True "+master+" yes") {
			t.Errorf("post_fork(server, worker) in the worker, after raw_env: %q", l)
		}
	}
	for _, l := range waitHook(t, logPath, "post_worker_init", 2) {
		if f := strings.Fields(l); len(f) != 4 || f[3] != "True" || !slices.Contains(workers, atoi(f[2])) {
			t.Errorf("post_worker_init(worker) with the loaded application: %q (workers %v)", l, workers)
		}
	}

	// pre_request and post_request around each request.
	resp, body := fetchWith(t, s.URL+"/some/path?q=1", "X-Test", "marked")
	if resp != 200 {
		t.Errorf("the application: %d %s", resp, body)
	}
	pre := waitHook(t, logPath, "pre_request", 1)[0]
	post := waitHook(t, logPath, "post_request", 1)[0]
	if f := strings.Fields(pre); len(f) != 6 || f[2] != "GET" || f[3] != "/some/path" || f[4] != "q=1" || f[5] != "marked" {
		t.Errorf("pre_request(worker, req): %q", pre)
	}
	if f := strings.Fields(post); len(f) != 9 || f[2] != "/some/path" || f[3] != "/some/path" || f[4] != "200" ||
		f[5] != "OK" || f[6] != "200" || f[7] != strconv.Itoa(len(body)) || f[8] != "1" {
		t.Errorf("post_request(worker, req, environ, resp): %q (body of %d bytes)", post, len(body))
	}

	// TTIN, TTOU: nworkers_changed; the worker retired: worker_exit in it,
	// child_exit in the master.
	s.Signal(syscall.SIGTTIN)
	waitHook(t, logPath, "nworkers_changed 3 2", 1)
	waitHook(t, logPath, "post_worker_init 3", 1)
	s.Signal(syscall.SIGTTOU)
	waitHook(t, logPath, "nworkers_changed 2 3", 1)
	exit := waitHook(t, logPath, "worker_exit", 1)[0]
	child := waitHook(t, logPath, "child_exit", 1)[0]
	// The worker object of child_exit is pre_fork's (what the hook set on
	// it is there), and no longer among the server's.
	if f := strings.Fields(exit); len(f) != 3 || f[2] != "False" || !strings.HasSuffix(child, " "+f[1]+" marked False") {
		t.Errorf("worker_exit %q and child_exit %q name one worker", exit, child)
	}

	// A worker signalled directly: QUIT (and INT) is worker_int, ABRT (the
	// master's word for a stuck worker) worker_abort; both exit, and are
	// replaced.
	pids := s.WaitWorkers(2, 30*time.Second)
	syscall.Kill(pids[0], syscall.SIGQUIT)
	waitHook(t, logPath, "worker_int "+strconv.Itoa(pids[0]), 1)
	syscall.Kill(pids[1], syscall.SIGABRT)
	waitHook(t, logPath, "worker_abort "+strconv.Itoa(pids[1]), 1)
	waitHook(t, logPath, "worker_exit "+strconv.Itoa(pids[1]), 1)
	waitFor(t, "two new workers", func() bool {
		now := s.WorkerPIDs()
		return len(now) == 2 && !slices.Contains(now, pids[0]) && !slices.Contains(now, pids[1])
	})

	// HUP reads the file again: on_reload, new workers.
	s.Signal(syscall.SIGHUP)
	waitHook(t, logPath, "on_reload "+master, 1)

	// TERM: the workers exit, then on_exit, last.
	if code := s.Stop(); code != 0 {
		t.Errorf("exit status %d\n%s", code, s.Log)
	}
	lines = hookLines(logPath)
	if last := lines[len(lines)-1]; last != "on_exit "+master {
		t.Errorf("the last hook is %q, want on_exit:\n%s", last, strings.Join(lines, "\n"))
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// fetchWith GETs url with a header, returning the status and the body.
func fetchWith(t *testing.T, url, name, value string) (int, string) {
	t.Helper()
	req, _ := newRequest("GET", url, name, value)
	resp, err := cliClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := readAll(resp.Body)
	return resp.StatusCode, b
}

// Without -c, ./gunicorn.conf.py is read, and the log says so; the
// command line wins over it.
func TestDefaultConfigFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gunicorn.conf.py"), "workers = 3\nthreads = 2\nwsgi_app = 'conformance:environ'\n")
	s := testutil.Start(t, testutil.Options{Dir: dir}, "--pythonpath", testutil.Testdata(), "-w", "1")
	if !s.WaitLog("Reading configuration from ./gunicorn.conf.py", 10*time.Second) {
		t.Errorf("the log does not say which file it read:\n%s", s.Log)
	}
	if !s.WaitLog("Application conformance:environ: 1 worker(s) of 2 Python thread(s)", 10*time.Second) {
		t.Errorf("wsgi_app and threads from the file, workers from the command line:\n%s", s.Log)
	}
	if m := cliJSON(t, s.URL+"/"); m["wsgi.multithread"] != true {
		t.Errorf("threads = 2: %v", m)
	}
}

// Errors in a configuration file: its traceback and status 1; a hook with
// the wrong arguments, a value of the wrong type, a setting gowsgi cannot
// do; a misspelt setting is a warning that suggests the name.
func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		text string
		want string
	}{
		"syntax":  {"workers = (\n", "Failed to read config file: "},
		"raises":  {"import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here'"},
		"arity":   {"def pre_fork(server):\n    pass\n", "hook pre_fork must take 2 arguments (gunicorn's signature), not 1"},
		"type":    {"workers = 'many'\n", "setting workers: a whole number"},
		"daemon":  {"daemon = True\n", "setting daemon is not supported: gowsgi stays in the foreground"},
		"ssl ctx": {"def ssl_context(config, factory):\n    return factory()\n", "setting ssl_context is not supported"},
		"missing": {"", "no such file"},
	} {
		conf := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".py")
		if name != "missing" {
			writeFile(t, conf, c.text)
		}
		log := refused(t, testutil.Options{}, c.want, "-c", conf, "specs")
		if name == "raises" && !strings.Contains(log, "Traceback (most recent call last)") {
			t.Errorf("%s: no traceback:\n%s", name, log)
		}
	}
	conf := filepath.Join(dir, "typo.py")
	writeFile(t, conf, "worker = 3\nstatsd_host = 'localhost:8125'\nport = 8000\n")
	s := testutil.Start(t, testutil.Options{}, "-c", conf, "specs")
	for _, want := range []string{`"worker" is not a setting (did you mean workers?); ignored`,
		"setting statsd_host is ignored: gowsgi sends no StatsD metrics (config file " + conf + ")"} {
		if !s.WaitLog(want, 10*time.Second) {
			t.Errorf("no warning %q:\n%s", want, s.Log)
		}
	}
}

// A hook that raises: on_starting stops the server (status 1), post_fork
// fails the worker's boot, which stops the server (status 3) rather than
// start workers that die forever; post_request's exception is logged and
// the response stands.
func TestHookErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "starting.py")
	writeFile(t, conf, "def on_starting(server):\n    raise RuntimeError('no start today')\n")
	s := testutil.Launch(t, testutil.Options{}, "-c", conf, "specs")
	if code := s.Wait(60 * time.Second); code != 1 || !strings.Contains(s.Log.String(), "RuntimeError: no start today") {
		t.Errorf("on_starting raising: status %d:\n%s", code, s.Log)
	}
	conf = filepath.Join(dir, "fork.py")
	writeFile(t, conf, "def post_fork(server, worker):\n    raise RuntimeError('no fork today')\n")
	s = testutil.Launch(t, testutil.Options{}, "-c", conf, "-w", "2", "specs")
	if code := s.Wait(60 * time.Second); code != exitBoot || !strings.Contains(s.Log.String(), "RuntimeError: no fork today") ||
		!strings.Contains(s.Log.String(), "Worker failed to boot") {
		t.Errorf("post_fork raising: status %d, want %d:\n%s", code, exitBoot, s.Log)
	}
	conf = filepath.Join(dir, "post.py")
	writeFile(t, conf, "def post_request(worker, req, environ, resp):\n    raise RuntimeError('after the fact')\n")
	s = testutil.Start(t, testutil.Options{}, "-c", conf, "--pythonpath", ".", "conformance:hello")
	if _, body := cliGet(t, s.URL+"/"); body != "Hello, world!" {
		t.Errorf("post_request raising changed the response: %q", body)
	}
	if !s.WaitLog("Exception in post_request hook", 10*time.Second) || !s.WaitLog("RuntimeError: after the fact", 10*time.Second) {
		t.Errorf("no traceback of post_request:\n%s", s.Log)
	}
}

// A TOML file sets the same settings by the same names; its hooks are the
// dotted names of functions.
func TestTOMLConfigFile(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "hooks.log")
	writeFile(t, filepath.Join(dir, "deployhooks.py"), logHelper+
		"def when_ready(server):\n    _log('when_ready', server.cfg.workers)\n"+
		"def post_request(worker, req, environ):\n    _log('post_request', req.path)\n")
	conf := filepath.Join(dir, "gowsgi.toml")
	writeFile(t, conf, `workers = 2
threads = 3
raw_env = ["FROM_TOML=1"]
pythonpath = "`+dir+","+testutil.Testdata()+`"
when_ready = "deployhooks.when_ready"
post_request = "deployhooks.post_request"

[secure_scheme_headers]
X-SCHEME = "https"
`)
	s := testutil.Start(t, testutil.Options{Env: []string{"HOOKS_LOG=" + logPath}}, "-c", conf, "conformance:environ")
	if !s.WaitLog("2 worker(s) of 3 Python thread(s)", 10*time.Second) {
		t.Errorf("the TOML settings:\n%s", s.Log)
	}
	req, _ := newRequest("GET", s.URL+"/toml", "X-Scheme", "https")
	resp, err := cliClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(body, `"wsgi.url_scheme": "https"`) {
		t.Errorf("secure_scheme_headers from TOML: %s", body)
	}
	waitHook(t, logPath, "when_ready 2", 1)
	waitHook(t, logPath, "post_request /toml", 1)
}

// With --preload the first worker imports the application before the
// others start (its post_worker_init comes before their pre_fork), and an
// application that cannot be imported fails once, not once per worker.
func TestPreload(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "hooks.log")
	conf := filepath.Join(dir, "conf.py")
	writeFile(t, conf, logHelper+
		"def pre_fork(server, worker):\n    _log('pre_fork', worker.age)\n"+
		"def post_worker_init(worker):\n    _log('post_worker_init', worker.age)\n")
	s := testutil.Start(t, testutil.Options{Env: []string{"HOOKS_LOG=" + logPath}}, "--preload", "-w", "3", "-c", conf,
		"--pythonpath", ".", "conformance:hello")
	waitHook(t, logPath, "post_worker_init", 3)
	lines := hookLines(logPath)
	if len(lines) < 2 || lines[0] != "pre_fork 1" || lines[1] != "post_worker_init 1" {
		t.Errorf("--preload: the first worker is not ready before the others start:\n%s", strings.Join(lines, "\n"))
	}
	s.Stop()

	s = testutil.Launch(t, testutil.Options{}, "--preload", "-w", "4", "--pythonpath", "broken", "broken_import")
	if code := s.Wait(60 * time.Second); code != exitAppLoad {
		t.Errorf("status %d, want %d", code, exitAppLoad)
	}
	if n := strings.Count(s.Log.String(), "Failed to load application"); n != 1 {
		t.Errorf("--preload -w 4: %d tracebacks, want 1:\n%s", n, s.Log)
	}
}

// SIGUSR2 starts a new master (pre_exec first) on the same sockets, its
// pid file PATH.2; SIGWINCH stops the old one's workers, SIGTERM the old
// master, and the new one takes the pid file over.
func TestUpgradeUSR2(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "gowsgi.pid")
	logPath := filepath.Join(dir, "hooks.log")
	conf := filepath.Join(dir, "conf.py")
	writeFile(t, conf, logHelper+"def pre_exec(server):\n    _log('pre_exec', server.pid)\n")
	s := testutil.Start(t, testutil.Options{Env: []string{"HOOKS_LOG=" + logPath}}, "-c", conf, "-p", pidFile,
		"--pythonpath", ".", "conformance:pid")
	old := s.PID()
	oldWorkers := s.WaitWorkers(1, 30*time.Second)
	s.Signal(syscall.SIGUSR2)
	waitHook(t, logPath, "pre_exec "+strconv.Itoa(old), 1)
	var next int
	waitFor(t, "the new master's pid file", func() bool {
		b, err := os.ReadFile(pidFile + ".2")
		next, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && next > 0
	})
	defer syscall.Kill(next, syscall.SIGTERM)
	if !s.WaitLog(fmt.Sprintf("[%d] [INFO] Using 1 socket(s) of the master %d (SIGUSR2)", next, old), 30*time.Second) {
		t.Fatalf("the new master did not take the sockets:\n%s", s.Log)
	}
	s.Signal(syscall.SIGWINCH)
	// Once the old workers are gone, the new master's answer.
	waitFor(t, "the new master's workers to answer", func() bool {
		_, body := fetch(s.URL + "/")
		return body != "" && !slices.Contains(oldWorkers, atoi(body))
	})
	// (Its exit status is not seen here: the new master holds the test's
	// pipe of their output open.)
	s.Signal(syscall.SIGTERM)
	waitFor(t, "the old master to exit", func() bool { return gone(old) })
	waitFor(t, "the new master to take the pid file", func() bool {
		b, _ := os.ReadFile(pidFile)
		return strings.TrimSpace(string(b)) == strconv.Itoa(next)
	})
	if st, _ := fetch(s.URL + "/"); st != 200 {
		t.Errorf("after the upgrade: %d", st)
	}
	syscall.Kill(next, syscall.SIGTERM)
	waitFor(t, "the new master to stop", func() bool { return gone(next) })
}

// gone tells whether a process has exited (a zombie has).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

func newRequest(method, url string, header ...string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req, nil
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

// SIGHUP reads the configuration file again: the new workers take what it
// says now (here, one worker more and a variable of raw_env).
func TestReloadReadsConfigAgain(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf.py")
	writeFile(t, conf, "workers = 1\nraw_env = ['STAGE=one']\n")
	s := testutil.Start(t, testutil.Options{}, "-c", conf, "--pythonpath", ".", "conformance:interpreter")
	if n := len(s.WaitWorkers(1, 30*time.Second)); n != 1 {
		t.Fatalf("%d workers", n)
	}
	writeFile(t, conf, "workers = 2\nraw_env = ['STAGE=two']\nbacklog = 100\n")
	s.Signal(syscall.SIGHUP)
	waitFor(t, "two workers", func() bool { return len(s.WorkerPIDs()) == 2 })
	if !s.WaitLog("--backlog changed to 100: it takes effect when the server restarts", 10*time.Second) {
		t.Errorf("no word of the backlog kept:\n%s", s.Log)
	}
	writeFile(t, conf, "workers = (\n")
	s.Signal(syscall.SIGHUP)
	if !s.WaitLog("The configuration could not be read again; the workers keep the one they have", 30*time.Second) {
		t.Errorf("a broken file on reload:\n%s", s.Log)
	}
	if st, _ := fetch(s.URL + "/"); st != 200 {
		t.Errorf("after a reload with a broken file: %d", st)
	}
	// The workers stop gracefully, none of them stuck in accept(2): a
	// worker's start must not put the sockets they share in blocking mode.
	if code := s.Stop(); code != 0 || strings.Contains(s.Log.String(), "killing them") {
		t.Errorf("status %d:\n%s", code, s.Log)
	}
}

// With post_request defined, a wsgi.file_wrapper response is still sent
// with sendfile(2) (the server then knows its length: Content-Length
// without the application giving one), and post_request runs after it,
// knowing how much was sent.
func TestRequestHooksKeepSendfile(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "hooks.log")
	conf := filepath.Join(dir, "conf.py")
	writeFile(t, conf, logHelper+"def post_request(worker, req, environ, resp):\n    _log('post_request', resp.status_code, resp.sent)\n")
	data := strings.Repeat("0123456789", 10000)
	file := filepath.Join(dir, "data.bin")
	writeFile(t, file, data)
	s := testutil.Start(t, testutil.Options{Env: []string{"HOOKS_LOG=" + logPath}}, "-c", conf, "--pythonpath", ".", "conformance:file")
	req, _ := newRequest("GET", s.URL+"/", "X-File", file, "X-Offset", "10")
	resp, err := cliClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	if body != data[10:] || resp.ContentLength != int64(len(data)-10) {
		t.Errorf("the file: %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
	waitHook(t, logPath, fmt.Sprintf("post_request 200 %d", len(data)-10), 1)
}

// -c python:MODULE imports the configuration as a module, -c file:PATH
// reads a file whatever its name, as gunicorn does; worker hooks come from
// either (post_worker_init sees the loaded application as worker.wsgi).
func TestConfigModuleAndFilePrefix(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "hooks.log")
	body := logHelper + "workers = 2\n" +
		"def post_worker_init(worker):\n    _log('post_worker_init', worker.age, worker.wsgi is not None)\n"
	writeFile(t, filepath.Join(dir, "deployconf.py"), body)
	writeFile(t, filepath.Join(dir, "deploy.conf"), body)
	for _, c := range []string{"python:deployconf", "file:" + filepath.Join(dir, "deploy.conf")} {
		os.Remove(logPath)
		s := testutil.Start(t, testutil.Options{Env: []string{"HOOKS_LOG=" + logPath}}, "-c", c,
			"--pythonpath", dir+","+testutil.Testdata(), "conformance:hello")
		if !s.WaitLog("Application conformance:hello: 2 worker(s)", 10*time.Second) {
			t.Errorf("-c %s: the settings did not apply:\n%s", c, s.Log)
		}
		for _, l := range waitHook(t, logPath, "post_worker_init", 2) {
			if !strings.HasSuffix(l, " True") {
				t.Errorf("-c %s: %q", c, l)
			}
		}
		s.Stop()
	}
}
