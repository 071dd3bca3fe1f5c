package watch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expect waits for want to be reported, failing on any other file reported
// meanwhile.
func expect(t *testing.T, w *Watcher, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case files := <-w.Changes():
			for _, f := range files {
				if f != want {
					t.Fatalf("reported %s; only %s changed in a watched way", f, want)
				}
			}
			if slices.Contains(files, want) {
				return
			}
		case <-deadline:
			t.Fatalf("%s was not reported", want)
		}
	}
}

// tempDir is a test directory by its real path, as reports name files.
func tempDir(t *testing.T) string {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func start(t *testing.T, cfg Config) *Watcher {
	t.Helper()
	cfg.Quiet = 50 * time.Millisecond
	w, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// Python files are reported, other files and the directories without the
// user's code (hidden, caches, virtualenvs) are not; new directories are
// watched.
func TestPythonFiles(t *testing.T) {
	dir := tempDir(t)
	write(t, filepath.Join(dir, "app.py"), "x = 1\n")
	write(t, filepath.Join(dir, "sub", "deep", "mod.py"), "x = 1\n")
	write(t, filepath.Join(dir, ".git", "hook.py"), "")
	write(t, filepath.Join(dir, "venv", "pyvenv.cfg"), "")
	write(t, filepath.Join(dir, "venv", "lib", "m.py"), "")
	write(t, filepath.Join(dir, "__pycache__", "app.py"), "")
	w := start(t, Config{Dirs: []string{dir}})

	// Noise first, in the same burst as the real change.
	write(t, filepath.Join(dir, "notes.txt"), "x")
	write(t, filepath.Join(dir, ".git", "hook.py"), "x")
	write(t, filepath.Join(dir, "venv", "lib", "m.py"), "x")
	write(t, filepath.Join(dir, "__pycache__", "app.py"), "x")
	write(t, filepath.Join(dir, "app.py"), "x = 2\n")
	expect(t, w, filepath.Join(dir, "app.py"))

	write(t, filepath.Join(dir, "sub", "deep", "mod.py"), "x = 2\n")
	expect(t, w, filepath.Join(dir, "sub", "deep", "mod.py"))

	if err := os.Mkdir(filepath.Join(dir, "newpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The new directory is watched once its creation was seen: wait for
	// that, then change a file in it.
	for !watching(w, filepath.Join(dir, "newpkg")) {
		time.Sleep(10 * time.Millisecond)
	}
	write(t, filepath.Join(dir, "newpkg", "m.py"), "x = 1\n")
	expect(t, w, filepath.Join(dir, "newpkg", "m.py"))
}

// watching tells whether dir has an inotify watch.
func watching(w *Watcher, dir string) bool {
	return slices.Contains(w.fs.WatchList(), dir)
}

// An extra file is reported whatever its type, also when an editor
// replaces it by renaming another file over it.
func TestExtraFile(t *testing.T) {
	dir := tempDir(t)
	conf := filepath.Join(dir, "conf", "settings.toml")
	write(t, conf, "a = 1\n")
	w := start(t, Config{Files: []string{conf}})
	write(t, filepath.Join(dir, "conf", "other.toml"), "")
	write(t, conf, "a = 2\n")
	expect(t, w, conf)

	tmp := filepath.Join(dir, "conf", ".settings.toml.swp")
	write(t, tmp, "a = 3\n")
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	expect(t, w, conf)
}

// A directory named through a symbolic link is watched.
func TestSymlinkedDir(t *testing.T) {
	dir := tempDir(t)
	write(t, filepath.Join(dir, "real", "app.py"), "x = 1\n")
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	w := start(t, Config{Dirs: []string{filepath.Join(dir, "link")}})
	write(t, filepath.Join(dir, "link", "app.py"), "x = 2\n")
	expect(t, w, filepath.Join(dir, "real", "app.py"))
}

// A burst of writes is one report.
func TestBurst(t *testing.T) {
	dir := tempDir(t)
	w, err := Start(Config{Dirs: []string{dir}, Quiet: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 20; i++ {
		write(t, filepath.Join(dir, "app.py"), "x = 1\n")
	}
	files := <-w.Changes()
	if len(files) != 1 {
		t.Errorf("reported %v", files)
	}
}

// What cannot be watched is a clear error at start.
func TestMissing(t *testing.T) {
	dir := tempDir(t)
	if _, err := Start(Config{Dirs: []string{filepath.Join(dir, "nope")}}); err == nil {
		t.Error("a missing directory was accepted")
	}
	if _, err := Start(Config{Files: []string{filepath.Join(dir, "nope", "f.txt")}}); err == nil {
		t.Error("an extra file in a missing directory was accepted")
	}
}
