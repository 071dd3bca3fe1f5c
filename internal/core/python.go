package core

// #cgo CFLAGS: -Wall -Wno-missing-field-initializers
// #include <stdlib.h>
// #include "gowsgi.h"
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// PythonConfig says how to start the interpreter: the public
// gowsgi.PythonConfig, which documents each field.
type PythonConfig struct {
	Virtualenv string
	Path       []string
	Argv       []string
	TimerSlack time.Duration
}

var python struct {
	once  sync.Once
	err   error
	cfg   PythonConfig
	calls chan func() // work for Python's main thread
	exe   string

	mu       sync.Mutex
	mainLent bool  // an App's first Python thread runs on the main thread
	mainPool *pool // ... that App's
}

// StartPython starts the embedded interpreter with cfg. Only the first call
// starts it; a later call with another virtualenv fails, and its Path
// entries are ignored (give each App's directories in the first call).
func StartPython(cfg PythonConfig) error {
	if cfg.Virtualenv == "" {
		cfg.Virtualenv = os.Getenv("VIRTUAL_ENV")
	}
	python.once.Do(func() {
		python.cfg = cfg
		python.err = startPython(cfg)
	})
	if python.err == nil && cfg.Virtualenv != python.cfg.Virtualenv {
		return fmt.Errorf("gowsgi: Python already runs with virtualenv %q; one process has one interpreter", python.cfg.Virtualenv)
	}
	return python.err
}

func startPython(cfg PythonConfig) error {
	if err := CheckPythonLibrary(); err != nil {
		return err
	}
	exe, err := pythonExecutable(cfg.Virtualenv)
	if err != nil {
		return err
	}
	python.exe = exe
	C.gw_python_timer_slack = C.ulong(max(cfg.TimerSlack, 0).Nanoseconds())
	argv := cfg.Argv
	if len(argv) == 0 {
		argv = os.Args
	}
	started := make(chan error)
	python.calls = make(chan func())
	// Python's main thread: the interpreter starts here and applications are
	// imported here, so threading.main_thread() and signal.signal() at
	// import time behave as they would under gunicorn.
	go func() {
		runtime.LockOSThread()
		C.gw_restore_timer_slack()
		started <- initInterpreter(exe, argv, cfg.Path)
		for f := range python.calls {
			f()
		}
	}()
	return <-started
}

func initInterpreter(exe string, argv, path []string) error {
	var free []unsafe.Pointer
	defer func() {
		for _, p := range free {
			C.free(p)
		}
	}()
	cstr := func(s string) *C.char {
		p := C.CString(s)
		free = append(free, unsafe.Pointer(p))
		return p
	}
	carray := func(ss []string) **C.char {
		if len(ss) == 0 {
			return nil
		}
		arr := (*[1 << 20]*C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:len(ss):len(ss)]
		free = append(free, unsafe.Pointer(&arr[0]))
		for i, s := range ss {
			arr[i] = cstr(s)
		}
		return &arr[0]
	}
	cfg := C.gw_config{
		executable: cstr(exe),
		argv:       carray(argv),
		argc:       C.int(len(argv)),
		path:       carray(path),
		npath:      C.int(len(path)),
	}
	var cerr *C.char
	if C.gw_init(&cfg, &cerr) != 0 {
		return fmt.Errorf("gowsgi: starting Python (%s): %s", exe, takeCString(cerr))
	}
	return nil
}

// onPythonMain runs f on Python's main thread and waits for it.
func onPythonMain(f func()) {
	done := make(chan struct{})
	python.calls <- func() { f(); close(done) }
	<-done
}

// lendPythonMain runs f on Python's main thread, without waiting for it, if
// no App holds that thread: the first App of a process runs its first
// Python thread there, so that, as under gunicorn, the application is
// imported (and with one thread served) on threading.main_thread(), where
// signal.signal() works. It reports whether f was taken.
func lendPythonMain(f func(), p *pool) bool {
	python.mu.Lock()
	defer python.mu.Unlock()
	if python.mainLent {
		return false
	}
	python.mainLent, python.mainPool = true, p
	python.calls <- func() {
		f()
		python.mu.Lock()
		python.mainLent, python.mainPool = false, nil
		python.mu.Unlock()
	}
	return true
}

// RunOnMainThread runs f on Python's main thread and returns once it ran,
// for Python code that must run where the application runs, as gunicorn
// runs its server hooks (a post_fork that opens a connection the requests
// then use). If an App runs its first Python thread there, f runs between
// two of its requests; when that thread stays in one request past limit,
// f runs on the calling goroutine's thread instead. f calls into Python
// itself (with PyGILState_Ensure).
func RunOnMainThread(f func(), limit time.Duration) {
	python.mu.Lock()
	lent, p := python.mainLent, python.mainPool
	python.mu.Unlock()
	switch {
	case lent && p != nil:
		if !p.callFirst(f, limit) {
			f()
		}
	case python.calls != nil && !lent:
		onPythonMain(f)
	default:
		f()
	}
}

// StopPython runs Python's atexit handlers and finalizes the interpreter.
// Call it once every App is closed, just before the process exits; while
// an App still runs on Python's main thread it does nothing.
func StopPython() {
	if python.calls == nil || python.err != nil {
		return
	}
	python.mu.Lock()
	lent := python.mainLent
	python.mu.Unlock()
	if lent {
		return
	}
	onPythonMain(func() { C.gw_finalize() })
}

// PythonVersion is the version of the embedded Python, e.g. "3.11.2 (main,
// ...) [GCC 12.2.0]". It does not start the interpreter.
func PythonVersion() string { return C.GoString(C.gw_python_version()) }

// PythonLibrary is the libpython file this binary runs with.
func PythonLibrary() string { return C.GoString(C.gw_library_path()) }

// PythonExecutable is sys.executable of the running interpreter, or what it
// will be for a virtualenv ("" for none).
func PythonExecutable(virtualenv string) (string, error) { return pythonExecutable(virtualenv) }

// pythonMajorMinor is "3.11" for the embedded Python.
func pythonMajorMinor() string {
	v := PythonVersion()
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// pythonExecutable finds the interpreter that belongs to the linked
// libpython: walking up from the library's directory to the prefix whose
// lib/pythonX.Y holds the standard library, then bin/pythonX.Y there. PATH is
// never consulted: the python3 found there may be another installation.
func pythonExecutable(virtualenv string) (string, error) {
	ver := pythonMajorMinor()
	if virtualenv != "" {
		return virtualenvPython(virtualenv, ver)
	}
	start := PythonLibrary()
	if resolved, err := filepath.EvalSymlinks(start); err == nil {
		start = resolved
	}
	if start == "" {
		if self, err := os.Executable(); err == nil {
			start = self
		}
	}
	for dir := filepath.Dir(start); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "lib", "python"+ver, "os.py")); err == nil {
			return filepath.Join(dir, "bin", "python"+ver), nil
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return "", fmt.Errorf("gowsgi: cannot find the standard library of Python %s above %s; is the Python %s installation complete?", ver, start, ver)
}

func virtualenvPython(dir, ver string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Errorf("gowsgi: virtualenv %s: %w", dir, err)
	}
	f, err := os.Open(filepath.Join(dir, "pyvenv.cfg"))
	if err != nil {
		return "", fmt.Errorf("gowsgi: %s is not a virtualenv: %w", dir, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		key = strings.TrimSpace(key)
		if !ok || (key != "version" && key != "version_info") {
			continue
		}
		value = strings.TrimSpace(value)
		if value != ver && !strings.HasPrefix(value, ver+".") {
			return "", fmt.Errorf("gowsgi: virtualenv %s was made with Python %s, but gowsgi embeds Python %s", dir, value, ver)
		}
		return exe, nil
	}
	return exe, sc.Err()
}

// takeCString converts and frees a string malloc'ed by C.
func takeCString(p *C.char) string {
	if p == nil {
		return "unknown error"
	}
	s := C.GoString(p)
	C.free(unsafe.Pointer(p))
	return s
}
