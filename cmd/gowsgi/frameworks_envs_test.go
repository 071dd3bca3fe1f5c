package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// frameworkEnv is one installation of the frameworks that the framework
// tests serve their applications from: Debian's packages on Debian's
// Python, or PyPI's current releases in a virtualenv that gowsgi serves
// with --virtualenv, on Debian's Python 3.11 and on a Python 3.13 built
// from Debian's source (Django 6 needs 3.12 or newer). The Makefile's
// `frameworks` target, which `make test` runs first, makes the
// virtualenvs and that Python under bin/.
type frameworkEnv struct {
	name       string // the subtest
	python     string // its interpreter, for manage.py
	virtualenv string // gowsgi's --virtualenv ("": Debian's packages)
	binary     string // a gowsgi built against its Python ("": the default one)
	pythonVer  string // major.minor of its Python
	// pinned maps a distribution's lower-case name to the version its
	// requirements file pins (nil: Debian's, whatever is installed).
	pinned map[string]string
}

// newPythonVersion is the Makefile's NEW_PYTHON, built into bin/pythonX.Y.
const newPythonVersion = "3.13"

func frameworkEnvs(t *testing.T) []frameworkEnv {
	t.Helper()
	root := testutil.Root()
	envs := []frameworkEnv{{name: "Debian", python: debianPython, pythonVer: debianPythonVersion(t)}}
	for _, ver := range []string{"3.11", newPythonVersion} {
		venv := filepath.Join(root, "bin", "venv-frameworks-"+ver)
		requirements := filepath.Join(root, "testdata", "frameworks", "requirements-"+ver+".txt")
		if _, err := os.Stat(filepath.Join(venv, ".made")); err != nil {
			t.Fatalf("the virtualenv %s is missing: `make frameworks` makes it (`make test` does): %v", venv, err)
		}
		env := frameworkEnv{
			name:       "PyPI-Python" + ver,
			python:     filepath.Join(venv, "bin", "python"),
			virtualenv: venv,
			pythonVer:  ver,
			pinned:     readPins(t, requirements),
		}
		if ver == newPythonVersion {
			env.binary = testutil.BinaryFor(t, filepath.Join(root, "bin", "python"+ver), ver)
		}
		envs = append(envs, env)
	}
	return envs
}

func debianPythonVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// readPins reads the name==version lines of a requirements file.
func readPins(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, version, ok := strings.Cut(sc.Text(), "=="); ok && !strings.HasPrefix(name, "#") {
			pins[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(version)
		}
	}
	return pins
}

// start serves an application of testdata/ from this installation.
func (e frameworkEnv) start(t *testing.T, opts testutil.Options, args ...string) *testutil.Server {
	t.Helper()
	opts.Program = e.binary
	if e.virtualenv != "" {
		args = append([]string{"--virtualenv", e.virtualenv}, args...)
	}
	return testutil.Start(t, opts, args...)
}

// checkVersion asks the application which version of the framework
// (distribution dist) and which Python serve it: the installation's, and
// from its own directory (a virtualenv's site-packages, or Debian's
// dist-packages), so that no other installation stands in for it.
func (e frameworkEnv) checkVersion(t *testing.T, base, path, dist string) {
	t.Helper()
	c := newFrameworkClient(t, base)
	resp, body := c.get(path)
	wantFrameworkStatus(t, resp, body, http.StatusOK)
	v := decodeFrameworkJSON(t, resp, body)
	version, _ := v["version"].(string)
	file, _ := v["file"].(string)
	python, _ := v["python"].(string)
	if !strings.HasPrefix(python, e.pythonVer+".") {
		t.Errorf("%s runs on Python %s, want %s", dist, python, e.pythonVer)
	}
	if e.virtualenv == "" {
		out, err := exec.Command(debianPython, "-c", "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))", dist).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(string(out)); version != want || !strings.HasPrefix(file, "/usr/lib/python3/dist-packages/") {
			t.Errorf("%s %s from %s, want Debian's %s from /usr/lib/python3/dist-packages", dist, version, file, want)
		}
		return
	}
	want := e.pinned[dist]
	if want == "" {
		t.Fatalf("no version of %s pinned for %s", dist, e.name)
	}
	if version != want || !strings.HasPrefix(file, e.virtualenv+"/lib/python"+e.pythonVer+"/site-packages/") {
		t.Errorf("%s %s from %s, want the pinned %s from %s", dist, version, file, want, e.virtualenv)
	}
	t.Logf("%s %s on Python %s", dist, version, python)
}

func falconDir() string { return filepath.Join(testutil.Testdata(), "falcon") }

// Falcon 4, the framework users pick for speed, from PyPI.
func TestFalcon(t *testing.T) {
	for _, e := range frameworkEnvs(t) {
		if e.virtualenv == "" {
			continue // Debian 12 has Falcon 3; the current release is PyPI's
		}
		t.Run(e.name, func(t *testing.T) {
			s := e.start(t, testutil.Options{}, "--threads", "4", "--chdir", falconDir(), "app:app")
			e.checkVersion(t, s.URL, "/version", "falcon")
			testFalcon(t, s)
		})
	}
}

func testFalcon(t *testing.T, s *testutil.Server) {
	t.Run("Routing", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		resp, body := c.get("/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if string(body) != "falcon index" {
			t.Errorf("GET /: body %q", body)
		}
		resp, body = c.get("/items/21")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "id", float64(21))
		wantFrameworkJSON(t, v, "double", float64(42))
		for _, path := range []string{"/no/such/page", "/items/abc", "/items/5000"} {
			resp, body := c.get(path)
			wantFrameworkStatus(t, resp, body, http.StatusNotFound)
		}
		// A route without that method's responder.
		resp, body = c.post("/items/1", "text/plain", []byte("x"))
		wantFrameworkStatus(t, resp, body, http.StatusMethodNotAllowed)
	})

	testJSONUploadsStreams(t, s)

	t.Run("Exception", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		// Falcon writes the traceback to wsgi.errors, the error log.
		checkFrameworkError(t, c, s, "/error", "RuntimeError: deliberate failure in falcon resource")
		resp, body := c.get("/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
	})

	checkFrameworkServerHealthy(t, s)
}

// Without PyPI, making a virtualenv (as `make test` does first) fails in
// one line that says so, and leaves no half-made virtualenv to be taken
// for a good one next time.
func TestMakeVenvWithoutPyPI(t *testing.T) {
	dir := t.TempDir()
	venv := filepath.Join(dir, "venv")
	requirements := filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(requirements, []byte("Flask==3.1.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(testutil.Root(), "scripts", "make-venv"), debianPython, venv, requirements)
	// An index on a port where nothing listens: every connection refused.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PIP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PIP_INDEX_URL=http://127.0.0.1:1/simple/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatalf("make-venv succeeded without an index; stderr:\n%s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "PyPI cannot be reached") {
		t.Errorf("make-venv said %q, want one line saying PyPI cannot be reached", lines)
	}
	if _, err := os.Stat(venv); !os.IsNotExist(err) {
		t.Errorf("a half-made virtualenv was left at %s (%v)", venv, err)
	}
}

// Without the Debian archive, building the newer Python fails in one line
// that says so, leaving no prefix behind.
func TestBuildPythonWithoutArchive(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "python")
	cmd := exec.Command(filepath.Join(testutil.Root(), "scripts", "build-python"), newPythonVersion, "trixie", prefix)
	// An archive on a port where nothing listens.
	cmd.Env = append(os.Environ(), "DEBIAN_ARCHIVE=http://127.0.0.1:1/debian/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("build-python succeeded without an archive; stderr:\n%s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "Debian's archive cannot be reached") {
		t.Errorf("build-python said %q, want one line saying Debian's archive cannot be reached", lines)
	}
	if _, err := os.Stat(prefix); !os.IsNotExist(err) {
		t.Errorf("a prefix was left at %s (%v)", prefix, err)
	}
}
