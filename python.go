package gowsgi

import (
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
)

// The embedded interpreter: one per process, started by the first App.

// PythonConfig says how to start the embedded interpreter. There is one
// interpreter per process: the first App (or StartPython) starts it, and
// later calls must not ask for a different one.
type PythonConfig struct {
	// Virtualenv is the directory of a virtual environment whose
	// site-packages the application uses. Empty means $VIRTUAL_ENV, if set.
	Virtualenv string
	// Path is put in front of sys.path, in order (gunicorn's --chdir and
	// --pythonpath).
	Path []string
	// Argv becomes sys.argv. Empty means the process's own arguments.
	Argv []string
	// TimerSlack, if set, is given to every thread that runs Python
	// before its first Python call (threads the application starts
	// inherit it): a process started with a coarse slack, for the Go
	// runtime's monitor, keeps time.sleep and timeouts in Python precise.
	// Zero leaves threads with the slack they inherited.
	TimerSlack time.Duration
}

func (c PythonConfig) core() core.PythonConfig {
	return core.PythonConfig{Virtualenv: c.Virtualenv, Path: c.Path, Argv: c.Argv, TimerSlack: c.TimerSlack}
}

// StartPython starts the embedded interpreter with cfg. Only the first call
// starts it; a later call with another virtualenv fails, and its Path
// entries are ignored (give each App's directories in the first call).
func StartPython(cfg PythonConfig) error { return core.StartPython(cfg.core()) }

// RunOnMainThread runs f on Python's main thread and returns once it ran,
// for Python code that must run where the application runs, as gunicorn
// runs its server hooks (a post_fork that opens a connection the requests
// then use). If an App runs its first Python thread there, f runs between
// two of its requests; when that thread stays in one request past limit,
// f runs on the calling goroutine's thread instead. f calls into Python
// itself (with PyGILState_Ensure).
func RunOnMainThread(f func(), limit time.Duration) { core.RunOnMainThread(f, limit) }

// StopPython runs Python's atexit handlers and finalizes the interpreter.
// Call it once every App is closed, just before the process exits; while
// an App still runs on Python's main thread it does nothing.
func StopPython() { core.StopPython() }

// PythonVersion is the version of the embedded Python, e.g. "3.11.2 (main,
// ...) [GCC 12.2.0]". It does not start the interpreter.
func PythonVersion() string { return core.PythonVersion() }

// PythonLibrary is the libpython file this binary runs with.
func PythonLibrary() string { return core.PythonLibrary() }

// PythonExecutable is sys.executable of the running interpreter, or what it
// will be for a virtualenv ("" for none).
func PythonExecutable(virtualenv string) (string, error) { return core.PythonExecutable(virtualenv) }

// PythonBuiltVersion is the version of the Python headers gowsgi was
// compiled with, e.g. "3.11.7".
func PythonBuiltVersion() string { return core.PythonBuiltVersion() }

// CheckPythonLibrary fails when the libpython loaded is not the one
// gowsgi was built against (LD_LIBRARY_PATH pointing elsewhere, or a
// build without the run path).
func CheckPythonLibrary() error { return core.CheckPythonLibrary() }

// PythonLibraryWarning describes, for the log and gowsgi --version, a
// libpython whose version differs from the headers gowsgi was compiled
// with, when the build named no library directory to check (a plain go
// build): "" when they agree. A patch release installed since the build
// is harmless (the ABI of a minor version is stable); another
// installation of Python is not what the build meant.
func PythonLibraryWarning() string { return core.PythonLibraryWarning() }
