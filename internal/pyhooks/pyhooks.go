// Package pyhooks runs gunicorn's configuration files and server hooks in
// the embedded interpreter (hooks.py), for the master's helper process and
// for the workers. The interpreter must be running (gowsgi.StartPython).
package pyhooks

// #cgo CFLAGS: -Wall
// #include <stdlib.h>
// #include "pyhooks.h"
import "C"

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/gowsgi/gowsgi"
)

//go:embed hooks.py
var source string

// hookWait is how long a hook waits for Python's main thread when the
// application's request there runs on (a worker_abort for a stuck one):
// then it runs where it is called.
const hookWait = 2 * time.Second

// Log receives the lines hooks write to server.log and worker.log, with
// Python's logging level (10 debug ... 50 critical). Set it before Start.
var Log = func(level int, text string) {}

//export goPyhooksLog
func goPyhooksLog(level C.int, text *C.char, n C.size_t) {
	Log(int(level), C.GoStringN(text, C.int(n)))
}

var started struct {
	once sync.Once
	err  error
}

// Start puts the module _gowsgi_hooks in the interpreter. The gowsgi
// loader then passes every application it loads through its
// wrap_application: a process that never calls Start pays nothing.
func Start() error {
	started.once.Do(func() {
		src := C.CString(source)
		defer C.free(unsafe.Pointer(src))
		var cerr *C.char
		var rc C.int
		gowsgi.RunOnMainThread(func() {
			runtime.LockOSThread()
			rc = C.gw_hooks_start(src, &cerr)
			runtime.UnlockOSThread()
		}, hookWait)
		if rc != 0 {
			started.err = errors.New("starting the hooks module: " + take(cerr))
		}
	})
	return started.err
}

// Error is a failure in Python: Text is the message, often a traceback.
type Error struct{ Text string }

func (e *Error) Error() string { return e.Text }

// Call runs the module's entry point name with arg as JSON, and decodes
// its result into out (if not nil). An exception is an *Error.
func Call(name string, arg, out any) error {
	if err := Start(); err != nil {
		return err
	}
	in, err := json.Marshal(arg)
	if err != nil {
		return err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	carg := C.CBytes(in)
	defer C.free(carg)
	var failed C.int
	var res string
	// On Python's main thread, as gunicorn runs its hooks: there the
	// application runs too (with one Python thread), and what a hook
	// makes for it (a connection bound to its thread) works.
	gowsgi.RunOnMainThread(func() {
		// One OS thread for the whole call: the GIL state belongs to it.
		runtime.LockOSThread()
		res = take(C.gw_hooks_call(cname, (*C.char)(carg), C.size_t(len(in)), &failed))
		runtime.UnlockOSThread()
	}, hookWait)
	if failed != 0 {
		return &Error{Text: res}
	}
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *string         `json:"error"`
	}
	if err := json.Unmarshal([]byte(res), &reply); err != nil {
		return err
	}
	if reply.Error != nil {
		return &Error{Text: *reply.Error}
	}
	if out == nil || len(reply.Result) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(reply.Result))
	d.UseNumber()
	return d.Decode(out)
}

func take(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.free(unsafe.Pointer(p))
	return s
}
