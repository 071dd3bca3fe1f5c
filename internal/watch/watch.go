// Package watch tells the master when the application's code changes
// (--reload): the Python files under the application's directories, and any
// extra files named on the command line. A burst of writes (an editor
// saving, a git checkout) is reported once, after it is over.
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultQuiet is how long the files must stay unchanged before a change is
// reported: long enough to gather one save or checkout, short enough not
// to be noticed.
const DefaultQuiet = 300 * time.Millisecond

// Config of a Watcher.
type Config struct {
	Dirs  []string      // watched recursively for *.py files
	Files []string      // watched themselves, whatever their type
	Quiet time.Duration // default DefaultQuiet
	Log   *slog.Logger
}

// Watcher reports changed files on Changes.
type Watcher struct {
	fs      *fsnotify.Watcher
	log     *slog.Logger
	quiet   time.Duration
	tree    map[string]bool // directories watched for *.py files
	files   map[string]bool // extra files, absolute
	changes chan []string
	done    chan struct{}
}

// Start watches cfg's directories and files. A directory that cannot be
// watched is an error; so is an extra file whose directory does not exist
// (the file itself may be created later).
func Start(cfg Config) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, explain(err)
	}
	w := &Watcher{fs: fw, log: cfg.Log, quiet: cfg.Quiet, tree: map[string]bool{}, files: map[string]bool{},
		changes: make(chan []string), done: make(chan struct{})}
	if w.quiet <= 0 {
		w.quiet = DefaultQuiet
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	for _, d := range cfg.Dirs {
		// A directory reached through a symbolic link is walked as
		// itself: the walk does not follow links.
		abs, err := filepath.EvalSymlinks(d)
		if err == nil {
			abs, err = filepath.Abs(abs)
		}
		if err == nil {
			_, err = w.addTree(abs)
		}
		if err != nil {
			fw.Close()
			return nil, err
		}
	}
	for _, f := range cfg.Files {
		abs, err := filepath.Abs(f)
		if err == nil {
			// The directory, not the file: editors replace a file by
			// renaming another over it, which would end a watch on it.
			err = fw.Add(filepath.Dir(abs))
		}
		if err != nil {
			fw.Close()
			return nil, fmt.Errorf("watching %s: %w", f, explain(err))
		}
		w.files[abs] = true
	}
	go w.run()
	return w, nil
}

// Changes delivers the files changed in each burst of changes.
func (w *Watcher) Changes() <-chan []string { return w.changes }

// Close stops watching.
func (w *Watcher) Close() error {
	close(w.done)
	return w.fs.Close()
}

// skip tells the directories that hold no application code of the user's
// own: hidden ones (.git), caches, virtualenvs and installed packages.
func skip(path, name string) bool {
	switch {
	case strings.HasPrefix(name, "."), name == "__pycache__", name == "node_modules",
		name == "site-packages", name == "dist-packages":
		return true
	}
	_, err := os.Stat(filepath.Join(path, "pyvenv.cfg"))
	return err == nil
}

// addTree watches root and the directories under it. It tells whether it
// found Python files, which a directory created at once with its contents
// (a checkout, a move) brings without a later event.
func (w *Watcher) addTree(root string) (found bool, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			w.log.Warn("--reload: cannot watch "+path, "error", err)
			return nil
		}
		if !d.IsDir() {
			found = found || strings.HasSuffix(path, ".py")
			return nil
		}
		if path != root && skip(path, d.Name()) {
			return filepath.SkipDir
		}
		if w.tree[path] {
			return nil
		}
		if err := w.fs.Add(path); err != nil {
			if path == root {
				return explain(err)
			}
			w.log.Warn("--reload: cannot watch "+path, "error", explain(err))
			return filepath.SkipDir
		}
		w.tree[path] = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("watching %s: %w", root, err)
	}
	return found, nil
}

// relevant tells whether an event changes the application's code, and
// watches the directories it creates.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	path := filepath.Clean(ev.Name)
	if w.files[path] {
		return true
	}
	if !w.tree[filepath.Dir(path)] {
		return false
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if w.tree[path] {
			// The watch ended with the directory; a directory that comes
			// back is watched anew when it is created.
			delete(w.tree, path)
			return true
		}
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
			if skip(path, fi.Name()) {
				return false
			}
			found, err := w.addTree(path)
			if err != nil {
				w.log.Warn("--reload", "error", err)
			}
			return found
		}
	}
	return strings.HasSuffix(path, ".py")
}

func (w *Watcher) run() {
	changed := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if w.relevant(ev) {
				changed[filepath.Clean(ev.Name)] = true
				// Report once the burst is over.
				timer.Reset(w.quiet)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: some may have been changes.
				changed["(too many changes to list)"] = true
				timer.Reset(w.quiet)
				continue
			}
			w.log.Warn("--reload: watching files", "error", explain(err))
		case <-timer.C:
			files := make([]string, 0, len(changed))
			for f := range changed {
				files = append(files, f)
			}
			sort.Strings(files)
			clear(changed)
			select {
			case w.changes <- files:
			case <-w.done:
				return
			}
		}
	}
}

// explain adds the remedy to the error a user can do something about.
func explain(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
		return fmt.Errorf("%w (raise fs.inotify.max_user_watches / max_user_instances with sysctl)", err)
	}
	return err
}
