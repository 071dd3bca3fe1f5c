package gowsgi

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
	"strconv"
	"time"
	"unsafe"
)

// sink is where a front end sends responses. The gateway core decides what
// is sent (the head once, the body within its Content-Length, nothing for
// HEAD/204/304); the sink decides how it is framed on its protocol.
type sink interface {
	// writeHead sends the status line and headers. length >= 0 is the body
	// length the head must announce when h has no Content-Length of its
	// own; -1 means unknown (chunked, or close-delimited).
	writeHead(h *responseHead, length int64) error
	// writeBody sends body bytes, a then b. flush asks for them to reach the
	// client now: PEP 3333 forbids holding back a block the application
	// produced while it produces the next.
	writeBody(a, b []byte, flush bool) error
	// sendFile sends n bytes of the file fd from offset off, with
	// sendfile(2) where the transport allows; it returns the bytes sent.
	sendFile(fd int, off, n int64) (int64, error)
	// end completes the response body.
	end() error
	// abort ends the exchange from another goroutine: what was written is
	// sent, then the connection is closed if the transport allows.
	abort()
}

// responseHead is the status and headers as the application gave them, or
// as the server made them for its own answers (500, 503, ...). Slices point
// into the request's C memory and stay valid until its next request.
type responseHead struct {
	status   int
	line     []byte      // "200 OK": the reason phrase is the application's own
	fields   [][2][]byte // name, value
	declared int64       // the Content-Length among fields, -1 if none
	hasDate  bool
}

// requestInfo is what the access log needs beyond the environ.
type requestInfo struct {
	started  time.Time
	outBytes int64
}

// loadHead reads the head C committed.
func (r *request) loadHead() {
	c := r.c
	h := &r.hd
	h.status = int(c.status)
	head := unsafe.Slice((*byte)(unsafe.Pointer(c.head)), int(c.head_len))
	hdr := unsafe.Slice((*uint32)(unsafe.Pointer(c.hdr)), int(c.nhdr))
	at := func(i int) []byte { return head[hdr[i] : hdr[i]+hdr[i+1] : hdr[i]+hdr[i+1]] }
	h.line = at(0)
	h.fields = h.fields[:0]
	for i := 2; i+3 < len(hdr); i += 4 {
		h.fields = append(h.fields, [2][]byte{at(i), at(i + 2)})
	}
	h.declared = int64(c.content_length)
	h.hasDate = c.out_flags&C.GW_OUT_HAS_DATE != 0
}

// sendHead sends the application's head. length is the body length when it
// is known, else -1.
func (r *request) sendHead(length int64) error {
	r.loadHead()
	return r.startResponse(length)
}

func (r *request) startResponse(length int64) error {
	h := &r.hd
	r.status = h.status
	r.headSent = true
	r.noBody = r.isHead || h.status < 200 || h.status == 204 || h.status == 304
	r.declared = h.declared
	if r.declared >= 0 {
		length = r.declared
	}
	if h.status < 200 || h.status == 204 {
		length = -1 // these never carry a body, nor a length
	}
	if r.declared < 0 && !r.noBody {
		r.declared = length
	}
	if err := r.sink.writeHead(h, length); err != nil {
		r.clientGone = true
		return err
	}
	return nil
}

// clip cuts p to what remains of the announced Content-Length: an
// application never makes the server send more than it promised.
func (r *request) clip(p []byte) []byte {
	if r.declared < 0 {
		return p
	}
	room := r.declared - r.sent
	if int64(len(p)) <= room {
		return p
	}
	if !r.overrun {
		r.overrun = true
		r.app.log.Warn("the application sent more than its Content-Length; the excess is dropped",
			"request", r.describe(), "content_length", r.declared)
	}
	if room < 0 {
		room = 0
	}
	return p[:room]
}

// writeBody sends body bytes, sending the head first if it has not gone.
func (r *request) writeBody(a, b []byte, flush bool) error {
	if r.clientGone {
		return errClientGone
	}
	if !r.headSent {
		if err := r.sendHead(int64(r.c.known_length)); err != nil {
			return err
		}
	}
	if r.noBody {
		return nil
	}
	a = r.clip(a)
	r.sent += int64(len(a))
	b = r.clip(b)
	r.sent += int64(len(b))
	if len(a)+len(b) == 0 && !flush {
		return nil
	}
	if err := r.sink.writeBody(a, b, flush); err != nil {
		r.clientGone = true
		return err
	}
	return nil
}

// finish completes the response once the application returned: the
// buffered body and the end of the body, a 500 for an application error
// before the head, or an abort after it.
func (r *request) finish() {
	flags := r.c.out_flags
	if flags&C.GW_OUT_HANDED_OVER != 0 {
		defer C.gw_finish(r.c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expired.Load() {
		return // the timeout watchdog answered already
	}
	switch {
	case r.clientGone:
		r.closeConn = true
	case flags&C.GW_OUT_FAILED != 0 || flags&(C.GW_OUT_HEAD_READY|C.GW_OUT_ABORT) == 0:
		if !r.headSent {
			if flags&C.GW_OUT_DEBUG_PAGE != 0 {
				page := unsafe.Slice((*byte)(unsafe.Pointer(r.c.body)), int(r.c.body_buf_len))
				r.respondWith(500, "Internal Server Error", "text/html; charset=utf-8", page)
				break
			}
			r.respond(500, "Internal Server Error")
			break
		}
		fallthrough
	case flags&C.GW_OUT_ABORT != 0:
		// The head went out before the error: the client must see the
		// response cut short, not complete.
		r.closeConn = true
		r.clientGone = true
	default:
		body := unsafe.Slice((*byte)(unsafe.Pointer(r.c.body)), int(r.c.body_buf_len))
		if !r.headSent {
			length := int64(len(body))
			if flags&C.GW_OUT_HANDED_OVER != 0 {
				length = int64(r.c.known_length)
			}
			if r.sendHead(length) != nil {
				break
			}
		}
		if r.writeBody(body, nil, false) != nil || r.sendHandedOver() != nil {
			break
		}
		if !r.noBody && r.declared >= 0 && r.sent < r.declared {
			r.app.log.Error("the application sent less than its Content-Length; closing the connection",
				"request", r.describe(), "content_length", r.declared, "sent", r.sent)
			r.closeConn = true
			r.clientGone = true
			break
		}
		if r.sink.end() != nil {
			r.clientGone = true
		}
	}
	r.info.outBytes = r.sent
}

// abandon ends an exchange whose sending panicked: a 500 if nothing was
// sent yet, and the connection closed either way.
func (r *request) abandon() {
	r.closeConn = true
	if r.headSent || r.clientGone {
		r.clientGone = true
		return
	}
	defer func() {
		if recover() != nil {
			r.clientGone = true
		}
	}()
	r.respond(500, "Internal Server Error")
}

// sendHandedOver sends a large body C handed over: chunks of bytes objects,
// or part of a file (with sendfile).
func (r *request) sendHandedOver() error {
	c := r.c
	if c.out_flags&C.GW_OUT_HANDED_OVER == 0 {
		return nil
	}
	for _, ch := range unsafe.Slice(c.chunks, int(c.nchunks)) {
		if err := r.writeBody(unsafe.Slice((*byte)(unsafe.Pointer(ch.p)), int(ch.n)), nil, false); err != nil {
			return err
		}
	}
	if c.file_fd < 0 || r.noBody {
		return nil
	}
	n := int64(c.file_len)
	if r.declared >= 0 && n > r.declared-r.sent {
		n = r.declared - r.sent
	}
	sent, err := r.sink.sendFile(int(c.file_fd), int64(c.file_off), n)
	r.sent += sent
	if err == nil && sent < n {
		// The file shrank after its length was announced.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		r.clientGone = true
		r.closeConn = true
	}
	return err
}

// respond sends a short plain-text answer of the server's own (errors,
// overload), when the application's head has not been sent.
func (r *request) respond(status int, reason string, extra ...[2]string) {
	r.respondWith(status, reason, "text/plain; charset=utf-8", []byte(reason+"\n"), extra...)
}

// respondWith sends an answer of the server's own with its body.
func (r *request) respondWith(status int, reason, contentType string, body []byte, extra ...[2]string) {
	h := &r.hd
	h.status = status
	h.line = strconv.AppendInt(h.line[:0:0], int64(status), 10)
	h.line = append(append(h.line, ' '), reason...)
	h.fields = append(h.fields[:0], [2][]byte{[]byte("Content-Type"), []byte(contentType)})
	for _, f := range extra {
		h.fields = append(h.fields, [2][]byte{[]byte(f[0]), []byte(f[1])})
	}
	h.declared = -1
	h.hasDate = false
	if r.startResponse(int64(len(body))) == nil && r.writeBody(body, nil, false) == nil {
		if r.sink.end() != nil {
			r.clientGone = true
		}
	}
	r.info.outBytes = r.sent
}

//export goGWWrite
func goGWWrite(h C.uintptr_t, a *C.char, alen C.size_t, b *C.char, blen C.size_t) (rc C.int) {
	r := cgo.Handle(h).Value().(*request)
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

//export goGWLog
func goGWLog(h C.uintptr_t, level C.int, msg *C.char, n C.size_t) {
	r := cgo.Handle(h).Value().(*request)
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

var errClientGone = errors.New("the client closed the connection")

// callbackPanic, deferred by a callback from C, turns a panic into a log
// line and a failed callback (*rc = -1): unwinding through the C frames of
// the Python call would leave the interpreter in a broken state.
func callbackPanic(r *request, rc *C.int) {
	if v := recover(); v != nil {
		r.callbackPanicked(v)
		if rc != nil {
			*rc = -1
		}
	}
}

func (r *request) callbackPanicked(v any) {
	r.app.log.Error("panic in a callback from Python", "request", r.describe(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	r.clientGone, r.closeConn = true, true
}

// cbytes views C memory as a byte slice, valid for the duration of the call.
func cbytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}
