package core

// #include "gowsgi.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/cgo"
	"runtime/debug"
	"unsafe"
)

// Every function C calls back into Go: the request's handle (or the
// App's) comes with each call. None may panic into the C frames of the
// Python call it serves: unwinding through them would leave the
// interpreter broken, so each recovers, logs, and fails the call.

// goGWRead is wsgi.input's read past the bytes preloaded in C: up to n
// bytes of the body into buf; 0 at its end, -1 on an error (the message
// in the request's errmsg).
//
//export goGWRead
func goGWRead(h C.uintptr_t, buf *C.char, n C.size_t) (got C.int64_t) {
	r := cgo.Handle(h).Value().(*Request)
	defer func() {
		if v := recover(); v != nil {
			r.callbackPanicked(v)
			r.body = nil
			r.setReadError(errors.New("the server failed reading the body"))
			got = -1
		}
	}()
	if r.body == nil {
		return 0
	}
	p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	r.ioBegin()
	defer r.ioEnd()
	for {
		m, err := r.body.Read(p)
		if m > 0 {
			return C.int64_t(m) // an error comes back on the next read
		}
		if err == io.EOF {
			r.body = nil
			return 0
		}
		if err != nil {
			r.body = nil
			r.closeAfter(Close)
			r.setReadError(err)
			return -1
		}
	}
}

// goGWWrite sends body bytes (a then b) the application gave, from
// write() or the response iterable, the head first if it has not gone.
//
//export goGWWrite
func goGWWrite(h C.uintptr_t, a *C.char, alen C.size_t, b *C.char, blen C.size_t) (rc C.int) {
	r := cgo.Handle(h).Value().(*Request)
	// A panic must not unwind through the C frames of the Python call.
	defer callbackPanic(r, &rc)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expired.Load() {
		return -1
	}
	r.ioBegin()
	err := r.writeBody(cbytes(a, alen), cbytes(b, blen), true)
	r.ioEnd()
	if err != nil {
		return -1
	}
	return 0
}

// goGWLog writes a log line of the core's C side (a traceback, a
// validator's finding) to the App's log, with the request.
//
//export goGWLog
func goGWLog(h C.uintptr_t, level C.int, msg *C.char, n C.size_t) {
	r := cgo.Handle(h).Value().(*Request)
	defer callbackPanic(r, nil)
	text := C.GoStringN(msg, C.int(n))
	what, traceback := text, ""
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			what, traceback = text[:i], text[i+1:]
			break
		}
	}
	lv := slog.LevelError
	switch level {
	case C.GW_LOG_DEBUG:
		lv = slog.LevelDebug
	case C.GW_LOG_INFO:
		lv = slog.LevelInfo
	case C.GW_LOG_WARNING:
		lv = slog.LevelWarn
	}
	r.app.log.Log(context.Background(), lv, what, "request", r.describe(), "traceback", traceback)
}

// goGWErrors is wsgi.errors: what the application writes to it.
//
//export goGWErrors
func goGWErrors(h C.uintptr_t, msg *C.char, n C.size_t) {
	a := cgo.Handle(h).Value().(*App)
	defer func() {
		if v := recover(); v != nil {
			a.log.Error("panic writing wsgi.errors", "panic", fmt.Sprint(v))
		}
	}()
	a.errorsMu.Lock()
	a.opts.Errors.Write(cbytes(msg, n))
	a.errorsMu.Unlock()
}

// callbackPanic, deferred by a callback from C, turns a panic into a log
// line and a failed callback (*rc = -1): unwinding through the C frames of
// the Python call would leave the interpreter in a broken state.
func callbackPanic(r *Request, rc *C.int) {
	if v := recover(); v != nil {
		r.callbackPanicked(v)
		if rc != nil {
			*rc = -1
		}
	}
}

func (r *Request) callbackPanicked(v any) {
	r.app.log.Error("panic in a callback from Python", "request", r.describe(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	r.closeAfter(Cut)
}

// cbytes views C memory as a byte slice, valid for the duration of the call.
func cbytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}
