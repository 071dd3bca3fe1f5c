package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/testutil"
)

// Every working setting of the table has its flag, and gunicorn's
// command-line spellings of the others are accepted (to be explained).
func TestFlagsMatchSettings(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var s settings
	addServeFlags(fs, &s)
	for _, st := range config.All {
		if st.Flag != "" && fs.Lookup(st.Flag) == nil {
			t.Errorf("%s: no flag --%s", st.Name, st.Flag)
		}
		for _, spelling := range st.CLI {
			if strings.HasPrefix(spelling, "--") && fs.Lookup(spelling[2:]) == nil {
				t.Errorf("%s: gunicorn's %s is not accepted", st.Name, spelling)
			}
			if !strings.HasPrefix(spelling, "--") && fs.ShorthandLookup(spelling[1:]) == nil {
				t.Errorf("%s: gunicorn's %s is not accepted", st.Name, spelling)
			}
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if _, ok := config.ByFlag(f.Name); !ok {
			t.Errorf("--%s has no setting: configuration files cannot set it", f.Name)
		}
	})
}

// Values no server can use are refused before anything is bound.
func TestRefusedValues(t *testing.T) {
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--threads 0: must be at least 1", []string{"--threads", "0", "specs"}},
		{"--timeout -5: must be at least 0", []string{"--timeout", "-5", "specs"}},
		{"--workers 0: must be at least 1", []string{"-w", "0", "specs"}},
		{`application "specs:": nothing after ':'`, []string{"specs:"}},
		{`application ":app": no module`, []string{":app"}},
		{"--chdir /no/such/dir: no such directory", []string{"--chdir", "/no/such/dir", "specs"}},
		{"--virtualenv", []string{"--virtualenv", "/no/such/venv", "specs"}},
		{"--access-logformat", []string{"--access-logformat", "%(h", "specs"}},
		{"--worker-tmp-dir /no/such/dir", []string{"--worker-tmp-dir", "/no/such/dir", "specs"}},
		{"--env \"NOEQUALS\"", []string{"-e", "NOEQUALS", "specs"}},
		{"--forwarded-allow-ips", []string{"--forwarded-allow-ips", "10.0.0.1/8", "specs"}},
		{"no application", nil},
	} {
		refused(t, testutil.Options{}, c.want, c.args...)
	}
	refused(t, testutil.Options{Env: []string{"GOWSGI_THREADS=0"}}, "--threads 0 (environment GOWSGI_THREADS)", "specs")
}

// --queue-timeout takes plain seconds like every timeout (Go's "30s" too);
// past it a request waiting for the only thread gets 503.
func TestQueueTimeoutSeconds(t *testing.T) {
	for _, v := range []string{"30", "2.5", "30s"} {
		out := printedConfig(t, nil, "--queue-timeout", v, "specs")
		want := map[string]string{"30": "30", "2.5": "2.5", "30s": "30"}[v]
		if !strings.Contains(out, "queue_timeout") || !strings.Contains(out, "= "+want+"  # command line") {
			t.Errorf("--queue-timeout %s:\n%s", v, out)
		}
	}
	s := testutil.Start(t, testutil.Options{}, "--queue-timeout", "1", "--pythonpath", ".", "conformance:sleep")
	go fetch(s.URL + "/?6")
	if !s.WaitLog("sleeping 6", 10*time.Second) {
		t.Fatalf("the first request did not start:\n%s", s.Log)
	}
	if status, _ := cliGet(t, s.URL+"/?0"); status != 503 {
		t.Errorf("a request waiting past --queue-timeout 1: %d, want 503", status)
	}
}

// printedConfig runs gowsgi --print-config and returns what it printed.
func printedConfig(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), append([]string{"--print-config", "--pythonpath", testutil.Testdata()}, args...)...)
	cmd.Dir = testutil.Testdata()
	cmd.Env = append(testutil.CleanEnv(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("--print-config %v: %v\n%s%s", args, err, out, stderr)
	}
	return string(out)
}

// setting is the line of --print-config for name: its value and origin.
func setting(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if n, rest, ok := strings.Cut(line, " = "); ok && strings.TrimSpace(n) == name {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// Precedence, gunicorn's: command line > GOWSGI_CMD_ARGS >
// GUNICORN_CMD_ARGS > the configuration file > GOWSGI_* > defaults; each
// value says where it came from.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf.py")
	writeFile(t, conf, "threads = 4\nkeepalive = 4\ngraceful_timeout = 4\nmax_requests = 4\n")
	env := []string{
		"GOWSGI_THREADS=5", "GOWSGI_KEEP_ALIVE=5", "GOWSGI_GRACEFUL_TIMEOUT=5", "GOWSGI_MAX_REQUESTS=5", "GOWSGI_BACKLOG=5",
		"GUNICORN_CMD_ARGS=--threads 3 --keep-alive 3 --graceful-timeout 3 -c " + conf,
		"GOWSGI_CMD_ARGS=--threads 2 --keep-alive 2",
	}
	out := printedConfig(t, env, "--threads", "1", "specs")
	// GOWSGI_CONFIG names a file as -c does.
	if got := setting(printedConfig(t, []string{"GOWSGI_CONFIG=" + conf}, "specs"), "max_requests"); got != "4  # config file "+conf {
		t.Errorf("GOWSGI_CONFIG: max_requests = %s", got)
	}
	for name, want := range map[string]string{
		"threads":            "1  # command line",
		"keepalive":          "2  # GOWSGI_CMD_ARGS",
		"graceful_timeout":   "3  # GUNICORN_CMD_ARGS",
		"max_requests":       "4  # config file " + conf,
		"backlog":            "5  # environment GOWSGI_BACKLOG",
		"limit_request_line": "8190  # default",
		"config":             "'" + conf + "'  # GUNICORN_CMD_ARGS",
	} {
		if got := setting(out, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

// $PORT and $WEB_CONCURRENCY change the defaults, as gunicorn's, and only
// those.
func TestPlatformVariables(t *testing.T) {
	port := freePort(t)
	s := testutil.Start(t, testutil.Options{NoBind: true, Env: []string{fmt.Sprintf("PORT=%d", port), "WEB_CONCURRENCY=3"}},
		"--pythonpath", ".", "conformance:hello")
	if !strings.Contains(s.Log.String(), fmt.Sprintf("Listening at: http://0.0.0.0:%d", port)) {
		t.Errorf("$PORT: not bound to 0.0.0.0:%d:\n%s", port, s.Log)
	}
	if n := len(s.WaitWorkers(3, 60*time.Second)); n != 3 {
		t.Errorf("$WEB_CONCURRENCY=3: %d workers", n)
	}
	out := printedConfig(t, []string{"PORT=9999", "WEB_CONCURRENCY=7", "FORWARDED_ALLOW_IPS=10.0.0.1"}, "specs")
	for name, want := range map[string]string{
		"bind": "['0.0.0.0:9999']  # $PORT", "workers": "7  # $WEB_CONCURRENCY",
		"forwarded_allow_ips": "'10.0.0.1'  # $FORWARDED_ALLOW_IPS",
	} {
		if got := setting(out, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	out = printedConfig(t, []string{"PORT=9999", "WEB_CONCURRENCY=7"}, "-b", "127.0.0.1:1234", "-w", "2", "specs")
	if setting(out, "bind") != "['127.0.0.1:1234']  # command line" || setting(out, "workers") != "2  # command line" {
		t.Errorf("the command line wins over $PORT and $WEB_CONCURRENCY:\n%s", out)
	}
}

// --check-config loads the configuration and the application: 0 if both
// load, 1 (with the traceback) if not; nothing is bound.
func TestCheckConfig(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"specs"}, 0, "load"},
		{[]string{"--pythonpath", "broken", "broken_import"}, 1, "ModuleNotFoundError: No module named 'this_module_does_not_exist'"},
		{[]string{"--threads", "0", "specs"}, 1, "--threads 0"},
		{[]string{"-c", "/no/such/conf.py", "specs"}, 1, "/no/such/conf.py"},
	} {
		s := testutil.Launch(t, testutil.Options{}, append([]string{"--check-config"}, c.args...)...)
		code := s.Wait(60 * time.Second)
		if code != c.code || !strings.Contains(s.Log.String(), c.want) || strings.Contains(s.Log.String(), "Listening at") {
			t.Errorf("--check-config %v: exit status %d (want %d):\n%s", c.args, code, c.code, s.Log)
		}
	}
}

// -k sync and -k gthread are what gowsgi does; other worker classes are
// refused, saying what to use.
func TestWorkerClass(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "-k", "gthread", "--threads", "4", "--pythonpath", ".", "conformance:hello")
	if !s.WaitLog("Worker class gthread: each worker serves with 4 Python thread(s)", 10*time.Second) {
		t.Errorf("no line saying what gthread means:\n%s", s.Log)
	}
	for _, class := range []string{"gevent", "eventlet", "uvicorn.workers.UvicornWorker", "tornado"} {
		refused(t, testutil.Options{}, "gowsgi serves WSGI on Python threads", "-k", class, "specs")
	}
}

// Settings of gunicorn's that gowsgi does not do: a warning naming each
// (the server starts), or, for those it cannot do without changing what
// the user asked, an error with the reason; given at gunicorn's default,
// nothing at all.
func TestUnsupportedSettings(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--statsd-host", "localhost:8125", "--no-sendfile",
		"--worker-connections", "1000", "--pythonpath", ".", "conformance:hello")
	log := s.Log.String()
	for _, want := range []string{"setting statsd_host is ignored: gowsgi sends no StatsD metrics (command line)",
		"setting sendfile is ignored"} {
		if !strings.Contains(log, want) {
			t.Errorf("no warning %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "worker_connections") {
		t.Errorf("worker_connections at its default should say nothing:\n%s", log)
	}
	refused(t, testutil.Options{}, "setting daemon is not supported: gowsgi stays in the foreground", "-D", "specs")
	refused(t, testutil.Options{}, "setting paste is not supported", "--paste", "development.ini", "specs")
}

// Subcommands are the first argument only: flags before a word make it
// the application; demo and version give way to a module of that name in
// the working directory.
func TestSubcommandPosition(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"demo", "version"} {
		writeFile(t, filepath.Join(dir, name+".py"), "def application(environ, start_response):\n"+
			"    start_response('200 OK', [('Content-Type', 'text/plain')])\n"+
			"    return [b'module "+name+"']\n")
	}
	for _, args := range [][]string{{"demo"}, {"--threads", "2", "demo"}, {"--threads", "2", "version"}} {
		s := testutil.Start(t, testutil.Options{Dir: dir}, args...)
		want := "module " + args[len(args)-1]
		if _, body := cliGet(t, s.URL+"/"); body != want {
			t.Errorf("%v in a directory with %s.py: %q, want %q", args, args[len(args)-1], body, want)
		}
		s.Stop()
	}
	// Elsewhere they are the commands.
	s := testutil.Start(t, testutil.Options{}, "demo")
	if _, body := cliGet(t, s.URL+"/"); !strings.HasPrefix(body, "Hello world!") {
		t.Errorf("gowsgi demo: %q", body)
	}
	out, err := exec.Command(testutil.Binary(t), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "gowsgi ") {
		t.Errorf("gowsgi version: %v %s", err, out)
	}
	// A flag before "version" does not break: version is the application.
	bad := testutil.Launch(t, testutil.Options{}, "--threads", "2", "version")
	if code := bad.Wait(60 * time.Second); code != exitAppLoad || !strings.Contains(bad.Log.String(), "No module named 'version'") {
		t.Errorf("gowsgi --threads 2 version (no version.py): status %d:\n%s", code, bad.Log)
	}
}

// -n names the processes: "gowsgi: master [NAME]" and "gowsgi: worker
// [NAME]" in ps (/proc/PID/cmdline); the master keeps its process ID.
func TestProcessTitle(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "-n", "shop", "-w", "2", "--pythonpath", ".", "conformance:hello")
	if _, body := cliGet(t, s.URL+"/"); body != "Hello, world!" {
		t.Fatalf("%q", body)
	}
	title := func(pid int) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
	}
	if got := title(s.PID()); !strings.HasPrefix(got, "gowsgi: master [shop] ") {
		t.Errorf("the master's command line: %q", got)
	}
	pids := s.WaitWorkers(2, 60*time.Second)
	for _, pid := range pids {
		if got := title(pid); got != "gowsgi: worker [shop]" {
			t.Errorf("worker %d: %q", pid, got)
		}
	}
}

// --capture-output sends what the application prints into the error log
// file.
func TestCaptureOutput(t *testing.T) {
	dir := t.TempDir()
	errlog := filepath.Join(dir, "error.log")
	writeFile(t, filepath.Join(dir, "printer.py"), "import sys\n"+
		"def application(environ, start_response):\n"+
		"    print('printed to stdout', flush=True)\n"+
		"    print('printed to stderr', file=sys.stderr, flush=True)\n"+
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n"+
		"    return [b'ok']\n")
	s := testutil.Launch(t, testutil.Options{Dir: dir}, "--capture-output", "--error-logfile", errlog, "printer")
	waitFor(t, "the server", func() bool {
		b, _ := os.ReadFile(errlog)
		return strings.Contains(string(b), "Booting worker")
	})
	var url string
	waitFor(t, "the address", func() bool {
		b, _ := os.ReadFile(errlog)
		if _, rest, ok := strings.Cut(string(b), "Listening at: "); ok {
			url = strings.Fields(rest)[0]
			return true
		}
		return false
	})
	waitFor(t, "the application", func() bool { st, _ := fetch(url + "/"); return st == 200 })
	waitFor(t, "the printed lines", func() bool {
		b, _ := os.ReadFile(errlog)
		return strings.Contains(string(b), "printed to stdout") && strings.Contains(string(b), "printed to stderr")
	})
	if strings.Contains(s.Log.String(), "printed to") {
		t.Errorf("the output still reached the terminal:\n%s", s.Log)
	}
}

// --tmp-upload-dir is where a chunked body too large for memory is
// spooled (unlinked at once): while one arrives, the worker holds a
// deleted file of that directory open.
func TestTmpUploadDir(t *testing.T) {
	dir := t.TempDir()
	s := testutil.Start(t, testutil.Options{}, "--tmp-upload-dir", dir, "--pythonpath", ".", "conformance:input_hash")
	worker := s.Worker()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	chunk := strings.Repeat("x", 64<<10)
	for i := 0; i < 40; i++ { // 2.5 MiB, more than memory holds
		fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	spooled := func() bool {
		links, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", worker))
		for _, l := range links {
			if target, _ := os.Readlink(l); strings.HasPrefix(target, filepath.Join(dir, "gowsgi-body-")) {
				return strings.HasSuffix(target, "(deleted)")
			}
		}
		return false
	}
	waitFor(t, "the body spooled to --tmp-upload-dir", spooled)
	io.WriteString(c, "0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`"length": %d`, 40*len(chunk))) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left in the directory: %v", entries)
	}
	refused(t, testutil.Options{}, "--tmp-upload-dir /no/such/dir: no such directory", "--tmp-upload-dir", "/no/such/dir", "specs")
}
