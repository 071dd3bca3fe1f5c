package core

// #include "gowsgi.h"
import "C"

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Sink is where a front end sends responses. The core decides what
// is sent (the head once, the body within its Content-Length, nothing for
// HEAD/204/304); the Sink decides how it is framed on its protocol.
type Sink interface {
	// WriteHead sends the status line and headers, framed as h says: the
	// Sink adds a Content-Length of h.Length when the application gave
	// none (h.Declared < 0) and the length is known (h.Length >= 0), and
	// says Connection: close when h.Close.
	WriteHead(h *ResponseHead) error
	// WriteBody sends body bytes, a then b. flush asks for them to reach the
	// client now: PEP 3333 forbids holding back a block the application
	// produced while it produces the next.
	WriteBody(a, b []byte, flush bool) error
	// SendFile sends n bytes of the file fd from offset off, with
	// sendfile(2) where the transport allows; it returns the bytes sent.
	SendFile(fd int, off, n int64) (int64, error)
	// End completes the response body.
	End() error
	// Abort ends the exchange from another goroutine: what was written is
	// sent, then the connection is closed if the transport allows.
	Abort()
}

// ResponseHead is the status and headers as the application gave them, or
// as the server made them for its own answers (500, 503, ...). Slices point
// into the request's C memory and stay valid until its next request.
type ResponseHead struct {
	Status   int
	Line     []byte      // "200 OK": the reason phrase is the application's own
	Fields   [][2][]byte // name, value
	Declared int64       // the Content-Length among fields, -1 if none
	HasDate  bool

	// The framing, decided by the core before WriteHead.
	Length int64 // the body's length, -1 if unknown
	NoBody bool  // HEAD, 1xx, 204, 304: no body follows
	Close  bool  // the connection must close after this response
}

// Ending is how an exchange ends, as far as the core knows; the front end
// adds its own reasons to close (HTTP/1.0, shutting down).
type Ending uint8

const (
	// Open: the response is whole, and the connection may carry another
	// request.
	Open Ending = iota
	// Close: the response is whole (or will be), but the connection must
	// close after it: the request body could not be read to its end, or
	// the watchdog answered.
	Close
	// Cut: the response is cut short, or the client is gone. Nothing more
	// is written; the client must see the response incomplete, so the
	// connection closes at once.
	Cut
)

// closeAfter raises the ending to at least e.
func (r *Request) closeAfter(e Ending) { r.ending = max(r.ending, e) }

// Ending is how the exchange ends (see Ending), once the response is done.
func (r *Request) Ending() Ending { return r.ending }

// requestInfo is what the access log needs beyond the environ.
type requestInfo struct {
	started  time.Time
	outBytes int64
}

// loadHead reads the head C committed.
func (r *Request) loadHead() {
	c := r.c
	h := &r.hd
	h.Status = int(c.status)
	head := unsafe.Slice((*byte)(unsafe.Pointer(c.head)), int(c.head_len))
	hdr := unsafe.Slice((*uint32)(unsafe.Pointer(c.hdr)), int(c.nhdr))
	at := func(i int) []byte { return head[hdr[i] : hdr[i]+hdr[i+1] : hdr[i]+hdr[i+1]] }
	h.Line = at(0)
	h.Fields = h.Fields[:0]
	for i := 2; i+3 < len(hdr); i += 4 {
		h.Fields = append(h.Fields, [2][]byte{at(i), at(i + 2)})
	}
	h.Declared = int64(c.content_length)
	h.HasDate = c.out_flags&C.GW_OUT_HAS_DATE != 0
}

// sendHead sends the application's head. length is the body length when it
// is known, else -1.
func (r *Request) sendHead(length int64) error {
	r.loadHead()
	return r.startResponse(length)
}

func (r *Request) startResponse(length int64) error {
	h := &r.hd
	r.status = h.Status
	r.headSent = true
	h.NoBody = r.isHead || h.Status < 200 || h.Status == 204 || h.Status == 304
	r.declared = h.Declared
	if r.declared >= 0 {
		length = r.declared
	}
	if h.Status < 200 || h.Status == 204 {
		length = -1 // these never carry a body, nor a length
		if h.Declared >= 0 {
			// RFC 9110 8.6: a server must not send a Content-Length in them.
			h.Fields = slices.DeleteFunc(h.Fields, func(f [2][]byte) bool {
				return len(f[0]) == len("Content-Length") && strings.EqualFold(string(f[0]), "Content-Length")
			})
			h.Declared, r.declared = -1, -1
		}
	}
	if r.declared < 0 && !h.NoBody {
		r.declared = length
	}
	h.Length = length
	h.Close = r.ending != Open
	if err := r.sink.WriteHead(h); err != nil {
		r.closeAfter(Cut)
		return err
	}
	return nil
}

// clip cuts p to what remains of the announced Content-Length: an
// application never makes the server send more than it promised.
func (r *Request) clip(p []byte) []byte {
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
func (r *Request) writeBody(a, b []byte, flush bool) error {
	if r.ending == Cut {
		return errClientGone
	}
	if !r.headSent {
		if err := r.sendHead(int64(r.c.known_length)); err != nil {
			return err
		}
	}
	if r.hd.NoBody {
		return nil
	}
	a = r.clip(a)
	r.sent += int64(len(a))
	b = r.clip(b)
	r.sent += int64(len(b))
	if len(a)+len(b) == 0 && !flush {
		return nil
	}
	if err := r.sink.WriteBody(a, b, flush); err != nil {
		r.closeAfter(Cut)
		return err
	}
	return nil
}

// finish completes the response once the application returned: the
// buffered body and the end of the body, a 500 for an application error
// before the head, or an abort after it.
func (r *Request) finish() {
	flags := r.c.out_flags
	if flags&C.GW_OUT_HANDED_OVER != 0 {
		defer C.gw_finish(r.c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expired.Load() {
		return // the timeout watchdog answered already
	}
	if r.ending != Cut {
		switch r.outcome(flags) {
		case failedBeforeHead:
			if flags&C.GW_OUT_DEBUG_PAGE != 0 {
				page := unsafe.Slice((*byte)(unsafe.Pointer(r.c.body)), int(r.c.body_buf_len))
				r.respondWith(500, "Internal Server Error", "text/html; charset=utf-8", page)
			} else {
				r.respond(500, "Internal Server Error")
			}
		case cutShort:
			// The head went out before the error: the client must see the
			// response cut short, not complete.
			r.closeAfter(Cut)
		case complete:
			r.complete(flags)
		}
	}
	r.info.outBytes = r.sent
}

// outcome is what the application's return leaves to do.
type outcome uint8

const (
	complete         outcome = iota // send what C kept and end the body
	failedBeforeHead                // an error before the head: a 500
	cutShort                        // an error after the head, or the application aborted
)

func (r *Request) outcome(flags C.uint32_t) outcome {
	failed := flags&C.GW_OUT_FAILED != 0 || flags&(C.GW_OUT_HEAD_READY|C.GW_OUT_ABORT) == 0
	switch {
	case failed && !r.headSent:
		return failedBeforeHead
	case failed || flags&C.GW_OUT_ABORT != 0:
		return cutShort
	}
	return complete
}

// complete sends the head if it has not gone, the body C kept or was
// handed, and the end of the body.
func (r *Request) complete(flags C.uint32_t) {
	body := unsafe.Slice((*byte)(unsafe.Pointer(r.c.body)), int(r.c.body_buf_len))
	if !r.headSent {
		length := int64(len(body))
		if flags&C.GW_OUT_HANDED_OVER != 0 {
			length = int64(r.c.known_length)
		}
		if r.sendHead(length) != nil {
			return
		}
	}
	if r.writeBody(body, nil, false) != nil || r.sendHandedOver() != nil {
		return
	}
	if !r.hd.NoBody && r.declared >= 0 && r.sent < r.declared {
		r.app.log.Error("the application sent less than its Content-Length; closing the connection",
			"request", r.describe(), "content_length", r.declared, "sent", r.sent)
		r.closeAfter(Cut)
		return
	}
	if r.sink.End() != nil {
		r.closeAfter(Cut)
	}
}

// abandon ends an exchange whose sending panicked: a 500 if nothing was
// sent yet, and the connection closed either way.
func (r *Request) abandon() {
	if r.headSent || r.ending == Cut {
		r.closeAfter(Cut)
		return
	}
	r.closeAfter(Close)
	defer func() {
		if recover() != nil {
			r.closeAfter(Cut)
		}
	}()
	r.respond(500, "Internal Server Error")
}

// sendHandedOver sends a large body C handed over: chunks of bytes objects,
// or part of a file (with sendfile).
func (r *Request) sendHandedOver() error {
	c := r.c
	if c.out_flags&C.GW_OUT_HANDED_OVER == 0 {
		return nil
	}
	for _, ch := range unsafe.Slice(c.chunks, int(c.nchunks)) {
		if err := r.writeBody(unsafe.Slice((*byte)(unsafe.Pointer(ch.p)), int(ch.n)), nil, false); err != nil {
			return err
		}
	}
	if c.file_fd < 0 || r.hd.NoBody {
		return nil
	}
	n := int64(c.file_len)
	if r.declared >= 0 && n > r.declared-r.sent {
		n = r.declared - r.sent
	}
	sent, err := r.sink.SendFile(int(c.file_fd), int64(c.file_off), n)
	r.sent += sent
	if err == nil && sent < n {
		// The file shrank after its length was announced.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		r.closeAfter(Cut)
	}
	return err
}

// respond sends a short plain-text answer of the server's own (errors,
// overload), when the application's head has not been sent.
func (r *Request) respond(status int, reason string, extra ...[2]string) {
	r.respondWith(status, reason, "text/plain; charset=utf-8", []byte(reason+"\n"), extra...)
}

// respondWith sends an answer of the server's own with its body.
func (r *Request) respondWith(status int, reason, contentType string, body []byte, extra ...[2]string) {
	h := &r.hd
	h.Status = status
	h.Line = strconv.AppendInt(h.Line[:0:0], int64(status), 10)
	h.Line = append(append(h.Line, ' '), reason...)
	h.Fields = append(h.Fields[:0], [2][]byte{[]byte("Content-Type"), []byte(contentType)})
	for _, f := range extra {
		h.Fields = append(h.Fields, [2][]byte{[]byte(f[0]), []byte(f[1])})
	}
	h.Declared = -1
	h.HasDate = false
	if r.startResponse(int64(len(body))) == nil && r.writeBody(body, nil, false) == nil {
		if r.sink.End() != nil {
			r.closeAfter(Cut)
		}
	}
	r.info.outBytes = r.sent
}

var errClientGone = errors.New("the client closed the connection")
