package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// otherPython is the python3 on PATH when it is another installation than
// the system's, with a libpython of its own: on these machines pyenv's
// (/root/.pyenv/versions/3.11.7), as pyenv, conda and /opt Pythons are on
// many users'. It returns its prefix, library directory, pkg-config
// directory and version.
func otherPython(t *testing.T) (prefix, libdir, pcdir, version string) {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys, sysconfig; v = sysconfig.get_config_var; "+
		"print(sys.prefix, v('LIBDIR'), v('LIBPC'), v('Py_ENABLE_SHARED'), sys.version.split()[0])").Output()
	if err != nil {
		t.Fatalf("python3 on PATH: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 5 || f[3] != "1" || f[0] == "/usr" {
		t.Fatalf("this test needs, as python3 on PATH, a Python other than the system's built with a shared "+
			"libpython (pyenv's is, here); python3 says %q", out)
	}
	return f[0], f[1], f[2], f[4]
}

// Built against another Python (make build with its PKG_CONFIG_PATH), the
// binary runs that Python, not the system's libpython of the same name:
// the build gives it the run path. A libpython from elsewhere
// (LD_LIBRARY_PATH pointing at the system's) is refused before binding.
func TestOtherPython(t *testing.T) {
	prefix, libdir, pcdir, version := otherPython(t)
	bin := filepath.Join(t.TempDir(), "gowsgi")
	build := exec.Command("make", "-s", "build", "BIN="+bin)
	build.Dir = testutil.Root()
	build.Env = append(os.Environ(), "PKG_CONFIG_PATH="+pcdir)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	exe := filepath.Join(prefix, "bin", "python"+strings.Join(strings.Split(version, ".")[:2], "."))
	for _, want := range []string{"Python " + version + " ", "libpython: " + libdir + "/libpython",
		"executable: " + exe, "built with the headers of Python " + version} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--version lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "warning") {
		t.Errorf("--version warns:\n%s", out)
	}
	s := testutil.Start(t, testutil.Options{Program: bin}, "--pythonpath", testutil.Testdata(), "specs:interpreter")
	if m := cliJSON(t, s.URL+"/"); m["executable"] != exe || m["prefix"] != prefix {
		t.Errorf("the application runs in %v, %v; want %s", m["executable"], m["prefix"], exe)
	}
	s.Stop()

	system := filepath.Dir(pythonLibrary(t))
	log := refused(t, testutil.Options{Program: bin, Env: []string{"LD_LIBRARY_PATH=" + system}},
		"gowsgi was built against the Python in "+libdir, "specs")
	if !strings.Contains(log, "LD_LIBRARY_PATH") {
		t.Errorf("the error does not say what to do:\n%s", log)
	}
}

// pythonLibrary is the libpython the test's own gowsgi runs: the system's.
func pythonLibrary(t *testing.T) string {
	out, err := exec.Command(testutil.Binary(t), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if lib, ok := strings.CutPrefix(line, "libpython: "); ok {
			return lib
		}
	}
	t.Fatalf("no libpython in %s", out)
	return ""
}
