package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// otherPythons holds the binaries built against another Python than the
// default one, by installation prefix.
var otherPythons struct {
	mu    sync.Mutex
	built map[string]*otherBuild
}

type otherBuild struct {
	once sync.Once
	path string
	err  error
}

// BinaryFor builds cmd/gowsgi against the Python installed in prefix
// (with its lib/pkgconfig/python-VERSION-embed.pc, as the Makefile's
// PYTHON_PC does) and returns its path; the race detector as Binary has
// it. An rpath to the prefix's lib lets it find that libpython. The build
// happens once per prefix and test process.
func BinaryFor(t testing.TB, prefix, version string) string {
	t.Helper()
	otherPythons.mu.Lock()
	if otherPythons.built == nil {
		otherPythons.built = map[string]*otherBuild{}
	}
	b := otherPythons.built[prefix]
	if b == nil {
		b = &otherBuild{}
		otherPythons.built[prefix] = b
	}
	otherPythons.mu.Unlock()
	b.once.Do(func() { b.path, b.err = buildFor(prefix, version) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func buildFor(prefix, version string) (string, error) {
	pc := "python-" + version + "-embed"
	pkgConfig := func(args ...string) (string, error) {
		cmd := exec.Command("pkg-config", append(args, pc)...)
		cmd.Env = append(os.Environ(), "PKG_CONFIG_PATH="+filepath.Join(prefix, "lib", "pkgconfig"))
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("pkg-config %s %s with %s: %v", strings.Join(args, " "), pc, prefix, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	cflags, err := pkgConfig("--cflags")
	if err != nil {
		return "", err
	}
	libs, err := pkgConfig("--libs")
	if err != nil {
		return "", err
	}
	libdir, err := pkgConfig("--variable=libdir")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gowsgi-test-python"+version+"-")
	if err != nil {
		return "", err
	}
	otherDirs.Store(dir, true)
	path := filepath.Join(dir, "gowsgi")
	args := []string{"build", "-tags", "gowsgi_python_flags", "-o", path}
	if RaceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/gowsgi")...)
	cmd.Dir = Root()
	cmd.Env = append(os.Environ(), "CGO_CFLAGS="+cflags, "CGO_LDFLAGS="+libs+" -Wl,-rpath,"+libdir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build against Python %s in %s: %v\n%s", version, prefix, err, out)
	}
	return path, nil
}

// otherDirs are the directories of BinaryFor's builds, for Cleanup.
var otherDirs sync.Map
