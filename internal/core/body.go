package core

// The request body: read ahead before the application runs when it is
// small (or of unknown length), within the per-request limit and the
// App's worker-wide budgets of memory and disk.

// #include "gowsgi.h"
import "C"

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"unsafe"
)

// Request body lengths for SetBody besides a Content-Length. -1 means
// unknown here as everywhere in the core (a response's length, a body
// C does not know in advance).
const (
	BodyUnknown int64 = -1 // chunked (or HTTP/2 without a length): read to its end
	BodyAbsent  int64 = -2 // no Content-Length, not chunked: no body at all
)

var (
	errBodyTooLarge = errors.New("request body larger than the limit")
	errBodyBudget   = errors.New("the worker holds as many request bodies as its budget allows")
)

// bodyStatus is the answer to a body that could not be read ahead.
func bodyStatus(err error) int {
	switch {
	case errors.Is(err, errBodyTooLarge):
		return 413
	case errors.Is(err, errBodyBudget):
		return 503
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return 408
	}
	return 400
}

// setBody prepares the request body and its CONTENT_LENGTH. length is the
// request's Content-Length, or BodyAbsent, or BodyUnknown. If the client waits
// for "100 Continue", nothing is read ahead: the application decides. It
// returns the status to answer instead of running the application (400,
// 413, 503) when the body cannot be accepted.
//
// A body with a Content-Length up to BodyBufferSize is read into memory
// before the application runs (when the memory budget has room), so a
// slow client holds no Python thread and wsgi.input reads it without
// leaving C; a larger one is read by the application from the client.
func (r *Request) setBody(body io.Reader, length int64, waitContinue bool) (int, error) {
	opts := &r.app.opts
	limit := opts.LimitRequestBody
	switch {
	case length == BodyAbsent:
		r.c.body_total = 0
		return 0, nil
	case length == BodyUnknown:
		// Reading it all is the server's own decision: a client waiting for
		// "100 Continue" gets it from the body reader's first read.
		n, err := r.spool(body, limit)
		if err != nil {
			return bodyStatus(err), err
		}
		length = n
	case limit > 0 && length > limit:
		return 413, errBodyTooLarge
	case length > 0 && length <= int64(opts.BodyBufferSize) && !waitContinue && r.hold(length):
		if err := r.preloadFrom(body, int(length)); err != nil {
			return 400, err
		}
	case length > 0:
		r.body = body
		r.c.in_flags |= C.GW_IN_MORE_BODY
	}
	r.c.body_total = C.int64_t(length)
	var digits [20]byte
	setVar(r, C.GW_K_CONTENT_LENGTH, strconv.AppendInt(digits[:0], length, 10))
	return 0, nil
}

// hold takes n bytes of the App's memory budget for the request's body.
func (r *Request) hold(n int64) bool {
	if !r.app.memory.Take(n) {
		return false
	}
	r.held += n
	return true
}

// giveBack returns what the body held of the App's budgets.
func (r *Request) giveBack() {
	if r.held != 0 {
		r.app.memory.Give(r.held)
		r.held = 0
	}
	if r.onDisk != 0 {
		r.app.disk.Give(r.onDisk)
		r.onDisk = 0
	}
}

var spoolBuffers sync.Pool

// smallSpool is the copy buffer of a body spooled to disk when the memory
// budget has no room for more.
const smallSpool = 4 << 10

// spool reads a body of unknown length to its end, so the application
// sees CONTENT_LENGTH (Django, among others, reads nothing without it):
// up to BodyBufferSize in memory, the rest in an unlinked temporary file.
// Past limit it fails with errBodyTooLarge, having read limit+1 bytes and
// no more: the connection is then closed, not drained.
func (r *Request) spool(src io.Reader, limit int64) (int64, error) {
	if limit > 0 {
		src = io.LimitReader(src, limit+1)
	}
	size := r.app.opts.BodyBufferSize
	if !r.hold(int64(size)) {
		size = smallSpool // on the stack of this goroutine's copy, as it were
	}
	bp, _ := spoolBuffers.Get().(*[]byte)
	if bp == nil || cap(*bp) < size {
		b := make([]byte, size)
		bp = &b
	}
	defer func() {
		if cap(*bp) <= 2*r.app.opts.BodyBufferSize {
			spoolBuffers.Put(bp)
		}
	}()
	buf := (*bp)[:size]
	n, err := fill(src, buf)
	if limit > 0 && int64(n) > limit {
		return 0, errBodyTooLarge
	}
	switch {
	case err == io.EOF:
		// All of it fits in memory: into the arena, where wsgi.input reads
		// it without a callback.
		r.preload(buf[:n])
		r.release(int64(size) - int64(n))
		return int64(n), nil
	case err != nil:
		return 0, err
	}
	// Larger than memory allows: into a temporary file, gone from the
	// file system already so nothing is left behind by a crash.
	f, err := os.CreateTemp(r.app.opts.TempDir, "gowsgi-body-")
	if err != nil {
		return 0, err
	}
	os.Remove(f.Name())
	total, err := r.spoolFile(f, src, buf, n, limit)
	r.release(int64(size))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		r.giveBack()
		return 0, err
	}
	r.body = f
	r.c.in_flags |= C.GW_IN_MORE_BODY
	r.cleanup = func() { f.Close() }
	return total, nil
}

// spoolFile writes the n bytes in buf and the rest of src to f, each
// write taken from the App's disk budget first, and returns the length.
func (r *Request) spoolFile(f *os.File, src io.Reader, buf []byte, n int, limit int64) (int64, error) {
	var total int64
	done := false
	for {
		if n > 0 {
			if !r.app.disk.Take(int64(n)) {
				return 0, errBodyBudget
			}
			r.onDisk += int64(n)
			if _, err := f.Write(buf[:n]); err != nil {
				return 0, err
			}
			total += int64(n)
			if limit > 0 && total > limit {
				return 0, errBodyTooLarge
			}
		}
		if done {
			return total, nil
		}
		var err error
		n, err = src.Read(buf)
		switch {
		case err == io.EOF:
			done = true // after the bytes that came with it
		case err != nil:
			return 0, err
		}
	}
}

// fill reads from src until buf is full (nil) or the body ends (io.EOF).
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// release gives back n bytes of the memory the body held.
func (r *Request) release(n int64) {
	n = min(n, r.held)
	r.app.memory.Give(n)
	r.held -= n
}

// setReadError tells wsgi.input why the body could not be read.
func (r *Request) setReadError(err error) {
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the client closed the connection before sending the whole body"
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(&r.c.errmsg[0])), len(r.c.errmsg))
	n := copy(dst[:len(dst)-1], msg)
	dst[n] = 0
}
