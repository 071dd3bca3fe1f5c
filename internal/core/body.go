package core

// #include "gowsgi.h"
import "C"

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"unsafe"
)

const (
	// Bodies up to PreloadMax with a Content-Length are read before the
	// application runs: a slow client then holds no Python thread, and
	// wsgi.input reads them without leaving C.
	PreloadMax = 64 << 10
	// Bodies of unknown length (chunked) are read to their end first, up to
	// SpoolMemory in memory and the rest in an unlinked temporary file, so
	// the application sees CONTENT_LENGTH: Django, among others, reads
	// nothing without it.
	SpoolMemory = 1 << 20
)

// Request body lengths for SetBody besides a Content-Length. -1 means
// unknown here as everywhere in the core (a response's length, a body
// C does not know in advance).
const (
	BodyUnknown int64 = -1 // chunked (or HTTP/2 without a length): read to its end
	BodyAbsent  int64 = -2 // no Content-Length, not chunked: no body at all
)

var errBodyTooLarge = errors.New("request body larger than the limit")

// setBody prepares the request body and its CONTENT_LENGTH. length is the
// request's Content-Length, or BodyAbsent, or BodyUnknown. If the client waits
// for "100 Continue", nothing is read ahead: the application decides. It
// returns the status to answer instead of running the application (400,
// 413) when the body cannot be accepted.
func (r *Request) setBody(body io.Reader, length int64, waitContinue bool) (int, error) {
	limit := r.app.opts.LimitRequestBody
	switch {
	case length == BodyAbsent:
		r.c.body_total = 0
		return 0, nil
	case length == BodyUnknown:
		// Reading it all is the server's own decision: a client waiting for
		// "100 Continue" gets it from the body reader's first read.
		n, err := r.spool(body, limit)
		if err != nil {
			if errors.Is(err, errBodyTooLarge) {
				return 413, err
			}
			return 400, err
		}
		length = n
	case limit > 0 && length > limit:
		return 413, errBodyTooLarge
	case length > 0 && length <= PreloadMax && !waitContinue:
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

var spoolBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// spool reads a body of unknown length to its end.
func (r *Request) spool(src io.Reader, limit int64) (int64, error) {
	if limit > 0 {
		src = io.LimitReader(src, limit+1)
	}
	buf := spoolBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(src, SpoolMemory))
	release := func() {
		if buf.Cap() <= 2*SpoolMemory {
			spoolBuffers.Put(buf)
		}
	}
	if err != nil {
		release()
		return 0, err
	}
	if limit > 0 && n > limit {
		release()
		return 0, errBodyTooLarge
	}
	if n < SpoolMemory {
		if n <= PreloadMax {
			r.preload(buf.Bytes())
			release()
			return n, nil
		}
		r.body = bytes.NewReader(buf.Bytes())
		r.c.in_flags |= C.GW_IN_MORE_BODY
		r.cleanup = release
		return n, nil
	}
	// Larger than memory allows: into a temporary file, gone from the
	// file system already so nothing is left behind by a crash.
	f, err := os.CreateTemp(r.app.opts.TempDir, "gowsgi-body-")
	if err != nil {
		release()
		return 0, err
	}
	os.Remove(f.Name())
	closeFile := func() { f.Close() }
	_, err = f.Write(buf.Bytes())
	release()
	if err == nil {
		var more int64
		more, err = io.Copy(f, src)
		n += more
	}
	if err == nil && limit > 0 && n > limit {
		err = errBodyTooLarge
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		closeFile()
		return 0, err
	}
	r.body = f
	r.c.in_flags |= C.GW_IN_MORE_BODY
	r.cleanup = closeFile
	return n, nil
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
