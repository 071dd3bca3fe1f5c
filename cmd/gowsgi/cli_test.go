package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

var cliClient = &http.Client{Timeout: 60 * time.Second}

func cliGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := cliClient.Get(url)
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func cliJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	status, body := cliGet(t, url)
	var m map[string]any
	if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("GET %s: %d %q", url, status, body)
	}
	return m
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(testutil.Binary(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{"gowsgi ", "Python 3.", "libpython", "executable: /usr/bin/python3."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--version lacks %q:\n%s", want, out)
		}
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	out, err := exec.Command(testutil.Binary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var flags []string
	newRootCommand(false).Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			flags = append(flags, "--"+f.Name)
		}
	})
	if len(flags) < 30 {
		t.Fatalf("only %d flags: %v", len(flags), flags)
	}
	for _, flag := range flags {
		if !strings.Contains(string(out), flag+" ") && !strings.Contains(string(out), flag+"\n") {
			t.Errorf("--help does not document %s", flag)
		}
	}
	if !strings.Contains(string(out), "GOWSGI_THREADS") {
		t.Errorf("--help does not say that flags come from the environment")
	}
}

// Applications are found as gunicorn finds them.
func TestApplicationSpecs(t *testing.T) {
	for spec, want := range map[string]string{
		"specs":                                   "application",
		"specs:application":                       "application",
		"specs:app":                               "app",
		"specs:create_app()":                      "factory",
		"specs:create_app('hi', times=3)":         "factory",
		"specs:holder.wsgi":                       "attribute",
		"onlyapp":                                 "only app",
		"wsgiref.simple_server:demo_app":          "Hello world!",
		"  specs : create_app( 'hi' , times=3 ) ": "factory",
	} {
		t.Run(spec, func(t *testing.T) {
			s := testutil.Start(t, testutil.Options{}, "--pythonpath", "onlyapp", spec)
			_, body := cliGet(t, s.URL+"/")
			if !strings.Contains(body, want) {
				t.Errorf("%s answered %q, want %q", spec, body, want)
			}
			if strings.Contains(spec, "times=3") && !strings.Contains(body, `"times": 3`) {
				t.Errorf("factory arguments not passed: %q", body)
			}
		})
	}
}

// An application that cannot be loaded stops the server at once with the
// Python traceback and a non-zero status.
func TestApplicationLoadErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"broken_import":                  "ModuleNotFoundError: No module named 'this_module_does_not_exist'",
		"broken_syntax":                  "SyntaxError",
		"no_such_module":                 "ModuleNotFoundError: No module named 'no_such_module'",
		"specs:missing":                  "module 'specs' has no attribute 'missing'",
		"specs:not_callable":             "not a WSGI callable",
		"specs:factory_returning_none()": "returned None",
		"specs:create_app(open('x'))":    "factory arguments must be Python literals",
	} {
		t.Run(spec, func(t *testing.T) {
			s := testutil.Launch(t, testutil.Options{}, "--pythonpath", "broken", spec)
			code := s.Wait(60 * time.Second)
			if code <= 0 {
				t.Fatalf("exit status %d, want non-zero:\n%s", code, s.Log)
			}
			log := s.Log.String()
			if !strings.Contains(log, want) || !strings.Contains(log, "Failed to load application") {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
			if spec == "broken_import" && !strings.Contains(log, "Traceback (most recent call last)") {
				t.Errorf("no traceback:\n%s", log)
			}
		})
	}
}

// The embedded interpreter is Debian's python3.11 whatever PATH says,
// Python installs no signal handler (Go keeps them), and --chdir,
// --pythonpath and -e reach the application.
func TestInterpreterSettings(t *testing.T) {
	dir := t.TempDir()
	s := testutil.Start(t, testutil.Options{Dir: "/"},
		"--chdir", testutil.Testdata(), "--pythonpath", dir+","+filepath.Join(testutil.Testdata(), "onlyapp"),
		"-e", "GOWSGI_TEST_MARKER=marked", "specs:interpreter")
	m := cliJSON(t, s.URL+"/")
	exe, _ := m["executable"].(string)
	if !strings.HasPrefix(exe, "/usr/bin/python3.") {
		t.Errorf("sys.executable = %q, want Debian's /usr/bin/python3.X", exe)
	}
	if m["prefix"] != "/usr" || m["cwd"] != testutil.Testdata() || m["marker"] != "marked" {
		t.Errorf("prefix %v cwd %v marker %v", m["prefix"], m["cwd"], m["marker"])
	}
	path, _ := m["path"].([]any)
	if len(path) < 3 || path[0] != dir || path[1] != filepath.Join(testutil.Testdata(), "onlyapp") || path[2] != testutil.Testdata() {
		t.Errorf("sys.path starts %v, want --pythonpath entries then the --chdir directory", path[:min(3, len(path))])
	}
	// None: the handler in place was not installed by Python (Go's is).
	if m["sigint"] != "None" || m["sigterm"] != "None" {
		t.Errorf("Python installed signal handlers: SIGINT %v, SIGTERM %v", m["sigint"], m["sigterm"])
	}
	// With one Python thread, as under gunicorn's sync worker, requests
	// run on Python's main thread, which imported the application.
	if m["main_thread"] != true {
		t.Errorf("with one Python thread, requests should run on Python's main thread")
	}
}

// --virtualenv (or VIRTUAL_ENV) makes the application use the virtualenv's
// site-packages and python.
func TestVirtualenv(t *testing.T) {
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("creating a virtualenv: %v\n%s", err, out)
	}
	site := filepath.Join(venv, "lib", "python"+pythonMajorMinor(t), "site-packages")
	marker := "def application(environ, start_response):\n" +
		"    import sys\n" +
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
		"    return [(sys.prefix + ' ' + sys.executable).encode()]\n"
	if err := os.WriteFile(filepath.Join(site, "venv_only_app.py"), []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	want := venv + " " + filepath.Join(venv, "bin", "python")
	for name, opts := range map[string]struct {
		args []string
		env  []string
	}{
		"flag":        {args: []string{"--virtualenv", venv}},
		"VIRTUAL_ENV": {env: []string{"VIRTUAL_ENV=" + venv}},
	} {
		t.Run(name, func(t *testing.T) {
			s := testutil.Start(t, testutil.Options{Env: opts.env}, append(opts.args, "venv_only_app")...)
			if _, body := cliGet(t, s.URL+"/"); body != want {
				t.Errorf("got %q, want %q", body, want)
			}
		})
	}
}

func pythonMajorMinor(t *testing.T) string {
	out, err := exec.Command("/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// Settings come from GOWSGI_* variables too; the command line wins.
func TestEnvironmentSettings(t *testing.T) {
	s := testutil.Start(t, testutil.Options{Env: []string{"GOWSGI_THREADS=4"}}, "specs")
	if m := cliJSON(t, s.URL+"/"); m["multithread"] != true {
		t.Errorf("GOWSGI_THREADS=4: wsgi.multithread = %v", m["multithread"])
	}
	s = testutil.Start(t, testutil.Options{Env: []string{"GOWSGI_THREADS=4"}}, "--threads", "1", "specs")
	if m := cliJSON(t, s.URL+"/"); m["multithread"] != false {
		t.Errorf("--threads 1 over GOWSGI_THREADS=4: wsgi.multithread = %v", m["multithread"])
	}
	s = testutil.Start(t, testutil.Options{NoBind: true, Env: []string{"GOWSGI_BIND=127.0.0.1:0"}}, "specs")
	if m := cliJSON(t, s.URL+"/"); m["name"] != "application" {
		t.Errorf("GOWSGI_BIND: %v", m)
	}
	bad := testutil.Launch(t, testutil.Options{Env: []string{"GOWSGI_THREADS=many"}}, "specs")
	if code := bad.Wait(30 * time.Second); code <= 0 || !strings.Contains(bad.Log.String(), "GOWSGI_THREADS") {
		t.Errorf("a bad GOWSGI_THREADS: status %d\n%s", code, bad.Log)
	}
}

// The access log follows gunicorn's default format; the error log holds
// start-up lines and tracebacks; "-" means the standard streams.
func TestAccessAndErrorLog(t *testing.T) {
	dir := t.TempDir()
	access := filepath.Join(dir, "access.log")
	s := testutil.Start(t, testutil.Options{}, "--access-logfile", access, "--pythonpath", ".", "conformance:boom")
	req, _ := http.NewRequest("GET", s.URL+"/path?q=1", nil)
	req.Header.Set("User-Agent", "agent/1.0")
	req.Header.Set("Referer", "http://ref.example/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var line string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && line == ""; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(access)
		line = string(b)
	}
	// 127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /path?q=1 HTTP/1.1" 500 22 "http://ref.example/" "agent/1.0"
	for _, want := range []string{`127.0.0.1 - - [`, `] "GET /path?q=1 HTTP/1.1" 500 22 "http://ref.example/" "agent/1.0"` + "\n"} {
		if !strings.Contains(line, want) {
			t.Errorf("access log %q lacks %q", line, want)
		}
	}
	if !s.WaitLog("ValueError: kaboom", 10*time.Second) || !strings.Contains(s.Log.String(), "[ERROR]") {
		t.Errorf("error log (stderr) lacks the traceback:\n%s", s.Log)
	}

	// To stdout with a custom format.
	s = testutil.Start(t, testutil.Options{}, "--access-logfile", "-", "--pythonpath", ".",
		"--access-logformat", `%(m)s %(U)s %(q)s %(s)s %({x-tag}i)s %({content-type}o)s`, "conformance:hello")
	req, _ = http.NewRequest("GET", s.URL+"/p?x=y", nil)
	req.Header.Set("X-Tag", "tagged")
	if resp, err = http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if !s.WaitLog("GET /p x=y 200 tagged text/plain\n", 10*time.Second) {
		t.Errorf("custom access log line missing:\n%s", s.Log)
	}

	// Into a file.
	errlog := filepath.Join(dir, "error.log")
	testutil.Launch(t, testutil.Options{}, "--error-logfile", errlog, "--pythonpath", ".", "conformance:hello")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(errlog); strings.Contains(string(b), "Listening at: http://") {
			return
		}
	}
	t.Errorf("--error-logfile did not receive the start-up lines")
}

// gunicorn's --limit-request-* flags bound the request head.
func TestRequestLimits(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--limit-request-line", "100", "--limit-request-fields", "5",
		"--limit-request-field_size", "50", "--pythonpath", ".", "conformance:hello")
	for name, c := range map[string]struct {
		req    string
		status string
	}{
		"line":       {"GET /" + strings.Repeat("a", 120) + " HTTP/1.1\r\nHost: h\r\n\r\n", "414"},
		"fields":     {"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", "431"},
		"field size": {"GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + strings.Repeat("v", 60) + "\r\n\r\n", "431"},
		"within":     {"GET /" + strings.Repeat("a", 80) + " HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("v", 40) + "\r\n\r\n", "200"},
	} {
		c.req = strings.Replace(c.req, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
		if name == "fields" {
			c.req = strings.Replace(c.req, "\r\nConnection: close", "", 1)
		}
		conn, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, c.req)
		line, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 "+c.status+" ") {
			t.Errorf("%s: %q, want %s", name, line, c.status)
		}
	}
}

// An idle keep-alive connection is closed after --keep-alive seconds.
func TestKeepAlive(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--keep-alive", "1", "--pythonpath", ".", "conformance:hello")
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the keep-alive time: %v, want the server to close (EOF)", err)
	}
}

// SIGTERM lets running requests finish, refuses new connections, and
// exits 0.
func TestGracefulShutdown(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--pythonpath", ".", "--threads", "2", "conformance:sleep")
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get(s.URL + "/?1.5")
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprint(resp.StatusCode, " ", string(body))
	}()
	if !s.WaitLog("sleeping 1.5", 10*time.Second) {
		t.Fatalf("the request did not start:\n%s", s.Log)
	}
	s.Signal(syscall.SIGTERM)
	if !s.WaitLog("Shutting down gracefully", 10*time.Second) {
		t.Fatalf("no shutdown line:\n%s", s.Log)
	}
	// The master and the worker close their listening sockets as they
	// begin to stop: soon, while the request is still running, a new
	// connection is refused.
	refused := false
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !refused; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			refused = true
		} else {
			c.Close()
		}
	}
	if !refused {
		t.Errorf("new connections still accepted during shutdown")
	}
	if got := <-done; got != "200 slept 1.5" {
		t.Errorf("the request in flight got %q", got)
	}
	if code := s.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0\n%s", code, s.Log)
	}
}

func TestDemo(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "demo")
	status, body := cliGet(t, s.URL+"/x?y=1")
	if status != 200 || !strings.HasPrefix(body, "Hello world!\n\n") ||
		!strings.Contains(body, "PATH_INFO = '/x'") || !strings.Contains(body, "QUERY_STRING = 'y=1'") ||
		!strings.Contains(body, "wsgi.url_scheme = 'http'") {
		t.Errorf("demo answered %d:\n%s", status, body)
	}
}

// With one Python thread, the workers' Go runtime monitor gets a coarse
// timer slack (so short Python calls keep their processor); the threads
// that run Python, and those they start, keep the slack gowsgi was started
// with. With several Python threads nothing changes.
func TestTimerSlack(t *testing.T) {
	own := readSlack(t, fmt.Sprintf("/proc/%d/timerslack_ns", syscall.Gettid()))
	if own == int64(time.Millisecond) {
		t.Fatalf("the test runs with a 1 ms timer slack already: nothing to tell apart")
	}
	for _, threads := range []string{"1", "2"} {
		s := testutil.Start(t, testutil.Options{}, "--threads", threads, "--pythonpath", testutil.Testdata(), "specs:timer_slack")
		m := cliJSON(t, s.URL+"/")
		if m["request_thread"] != float64(own) || m["started_thread"] != float64(own) || m["variable_seen"] != false {
			t.Errorf("--threads %s: Python sees %v, want the server's own slack %d and no _GOWSGI_TIMERSLACK", threads, m, own)
		}
		coarse := 0
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", s.Worker()))
		for _, task := range tasks {
			if readSlack(t, "/proc/"+filepath.Base(task)+"/timerslack_ns") == int64(time.Millisecond) {
				coarse++
			}
		}
		if want := threads == "1"; (coarse > 0) != want {
			t.Errorf("--threads %s: %d of the worker's %d threads have the 1 ms slack; want some: %v", threads, coarse, len(tasks), want)
		}
		s.Stop()
	}
}

func readSlack(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	var n int64
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		t.Fatalf("%s: %q: %v", path, b, err)
	}
	return n
}
