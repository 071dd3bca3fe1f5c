package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// writeApp writes dir/name.py: an application answering version.
func writeApp(t *testing.T, dir, name, version string) {
	t.Helper()
	app := "VERSION = " + strconv.Quote(version) + "\n\n" +
		"def application(environ, start_response):\n" +
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
		"    return [VERSION.encode()]\n"
	writeFile(t, filepath.Join(dir, name+".py"), app)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fetch returns the status and body of GET url ("" and 0 on an error).
func fetch(url string) (int, string) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, ""
	}
	return resp.StatusCode, string(b)
}

// waitBody waits until the server answers 200 with body.
func waitBody(t *testing.T, s *testutil.Server, body string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		status, b := fetch(s.URL + "/")
		if status == 200 && b == body {
			return
		}
		last = strconv.Itoa(status) + " " + b
	}
	t.Fatalf("the server never answered %q (last: %q):\n%s", body, last, s.Log)
}

// --reload: a changed file is served; a syntax error leaves the old
// worker serving, with the traceback in the log; the fix is served.
func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "versioned", "one")
	// Python would write .pyc files (an empty setting is no setting).
	env := []string{"PYTHONDONTWRITEBYTECODE="}
	s := testutil.Start(t, testutil.Options{Env: env}, "--reload", "--chdir", dir, "versioned")
	waitBody(t, s, "one")

	// Same size, same modification time: only the reload can tell.
	fi, err := os.Stat(filepath.Join(dir, "versioned.py"))
	if err != nil {
		t.Fatal(err)
	}
	writeApp(t, dir, "versioned", "two")
	os.Chtimes(filepath.Join(dir, "versioned.py"), fi.ModTime(), fi.ModTime())
	waitBody(t, s, "two")

	writeFile(t, filepath.Join(dir, "versioned.py"), "def application(:\n")
	if !s.WaitLog("The reloaded application failed to load", 60*time.Second) {
		t.Fatalf("no failed reload in the log:\n%s", s.Log)
	}
	for _, want := range []string{"SyntaxError", "versioned.py"} {
		if !s.WaitLog(want, 10*time.Second) {
			t.Errorf("the log lacks %q:\n%s", want, s.Log)
		}
	}
	if status, body := fetch(s.URL + "/"); status != 200 || body != "two" {
		t.Errorf("with the broken code: %d %q, want the old worker's 200 \"two\"", status, body)
	}

	writeApp(t, dir, "versioned", "three")
	waitBody(t, s, "three")
	if code := s.Wait(0); code != -1 {
		t.Errorf("the server exited (%d)", code)
	}
}

// --reload, started with a broken application: the server waits for a
// change instead of exiting, and serves once the code is fixed. A package
// in a new directory is watched too.
func TestReloadBrokenAtStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), "from pkg.version import VERSION\n\n"+
		"def application(environ, start_response):\n"+
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n"+
		"    return [VERSION.encode()]\n")
	s := testutil.Start(t, testutil.Options{}, "--reload", "--chdir", dir, "app")
	if !s.WaitLog("waiting for a change", 60*time.Second) {
		t.Fatalf("no wait for a change:\n%s", s.Log)
	}
	if !s.WaitLog("ModuleNotFoundError: No module named 'pkg'", 10*time.Second) {
		t.Errorf("no traceback in the log:\n%s", s.Log)
	}
	if err := os.Mkdir(filepath.Join(dir, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "pkg", "__init__.py"), "")
	writeFile(t, filepath.Join(dir, "pkg", "version.py"), "VERSION = 'fixed'\n")
	waitBody(t, s, "fixed")
	writeFile(t, filepath.Join(dir, "pkg", "version.py"), "VERSION = 'changed in pkg'\n")
	waitBody(t, s, "changed in pkg")
}

// A change while the worker still imports the old code: a new worker
// imports the new code.
func TestReloadWhileBooting(t *testing.T) {
	dir := t.TempDir()
	slow := func(version string) {
		writeFile(t, filepath.Join(dir, "slow.py"), "import time\ntime.sleep(1)\nVERSION = "+strconv.Quote(version)+"\n\n"+
			"def application(environ, start_response):\n"+
			"    start_response('200 OK', [('Content-Type', 'text/plain')])\n"+
			"    return [VERSION.encode()]\n")
	}
	slow("one")
	s := testutil.Start(t, testutil.Options{}, "--reload", "--chdir", dir, "slow")
	s.WaitLog("Booting worker", 60*time.Second)
	slow("two")
	waitBody(t, s, "two")
}

// A burst of writes is one reload, or a few: not one per write.
func TestReloadDebounced(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "versioned", "start")
	s := testutil.Start(t, testutil.Options{}, "--reload", "--chdir", dir, "versioned")
	waitBody(t, s, "start")
	const writes = 30
	for i := 1; i <= writes; i++ {
		writeApp(t, dir, "versioned", "v"+strconv.Itoa(i))
	}
	waitBody(t, s, "v"+strconv.Itoa(writes))
	if n := strings.Count(s.Log.String(), "Reloading (changed: versioned.py)"); n < 1 || n >= writes {
		t.Errorf("%d writes made %d reloads:\n%s", writes, n, s.Log)
	}
}

// --reload-extra-file: a change to another kind of file reloads too.
func TestReloadExtraFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "settings.conf")
	writeFile(t, conf, "first")
	writeFile(t, filepath.Join(dir, "app.py"), "VERSION = open('settings.conf').read()\n\n"+
		"def application(environ, start_response):\n"+
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n"+
		"    return [VERSION.encode()]\n")
	s := testutil.Start(t, testutil.Options{}, "--reload", "--reload-extra-file", conf, "--chdir", dir, "app")
	waitBody(t, s, "first")
	writeFile(t, conf, "second")
	waitBody(t, s, "second")
}

// Bad --reload settings are clear errors at start (exit status 1, a
// setting that cannot be used), naming the flag at fault.
func TestReloadBadSettings(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--reload-extra-file", filepath.Join(dir, "x.conf"), "conformance:pid"}, "--reload"},
		{[]string{"--reload", "--reload-extra-file", filepath.Join(dir, "missing", "x.conf"), "conformance:pid"}, "--reload"},
		{[]string{"--reload", "--chdir", filepath.Join(dir, "missing"), "conformance:pid"}, "--chdir"},
	} {
		s := testutil.Launch(t, testutil.Options{}, c.args...)
		if code := s.Wait(60 * time.Second); code != 1 {
			t.Errorf("%v: exit status %d, want 1:\n%s", c.args, code, s.Log)
		}
		if !strings.Contains(s.Log.String(), c.flag) {
			t.Errorf("%v: the error does not name %s:\n%s", c.args, c.flag, s.Log)
		}
	}
}

// --debug: the 500 of an application error is the traceback page, escaped;
// the start-up warning is logged. Without it, the 500 tells nothing.
func TestDebugFlag(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "failing.py"), "def application(environ, start_response):\n"+
		"    raise KeyError('<script>alert(1)</script>')\n")
	s := testutil.Start(t, testutil.Options{}, "--debug", "--chdir", dir, "failing")
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("%s %v", resp.Status, resp.Header)
	}
	for _, want := range []string{
		"KeyError: &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;",
		filepath.Join(dir, "failing.py"),
		"raise KeyError(&#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Errorf("unescaped markup:\n%s", body)
	}
	log := s.Log.String()
	if !strings.Contains(log, "[WARNING]") || !strings.Contains(log, "Debug mode (--debug) shows tracebacks to every client: never use it in production") {
		t.Errorf("no warning at start:\n%s", log)
	}
	if !s.WaitLog("KeyError: '<script>alert(1)</script>'", 30*time.Second) {
		t.Errorf("no traceback in the log:\n%s", s.Log)
	}

	plain := testutil.Start(t, testutil.Options{}, "--chdir", dir, "failing")
	status, body := fetch(plain.URL + "/")
	if status != 500 || body != "Internal Server Error\n" {
		t.Errorf("without --debug: %d %q", status, body)
	}
	if strings.Contains(plain.Log.String(), "--debug") {
		t.Errorf("debug warning without --debug:\n%s", plain.Log)
	}
}

// --reload also watches the configuration file, read again on the
// reload; a glob of --reload-extra-file is expanded at start.
func TestReloadConfigFileAndGlobs(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "app", "first")
	conf := filepath.Join(dir, "conf.py")
	writeFile(t, conf, "raw_env = ['STAGE=one']\n")
	tmpl := filepath.Join(dir, "templates")
	os.Mkdir(tmpl, 0o755)
	writeFile(t, filepath.Join(tmpl, "page.html"), "v1")
	s := testutil.Start(t, testutil.Options{}, "--reload", "-c", conf, "--reload-extra-file", filepath.Join(tmpl, "*.html"),
		"--chdir", dir, "app")
	waitBody(t, s, "first")
	writeFile(t, conf, "raw_env = ['STAGE=two']\n")
	if !s.WaitLog("Reloading (changed: conf.py)", 30*time.Second) {
		t.Errorf("a change of the configuration file did not reload:\n%s", s.Log)
	}
	writeFile(t, filepath.Join(tmpl, "page.html"), "v2")
	if !s.WaitLog("Reloading (changed: page.html)", 30*time.Second) {
		t.Errorf("a file the glob matched did not reload:\n%s", s.Log)
	}
}

func TestExpandGlobs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.html", "b.html", "c.txt"} {
		writeFile(t, filepath.Join(dir, n), "x")
	}
	got := expandGlobs([]string{filepath.Join(dir, "*.html"), filepath.Join(dir, "plain.conf"), filepath.Join(dir, "*.none")})
	want := []string{filepath.Join(dir, "a.html"), filepath.Join(dir, "b.html"), filepath.Join(dir, "plain.conf"), filepath.Join(dir, "*.none")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("expandGlobs: %v, want %v", got, want)
	}
}
