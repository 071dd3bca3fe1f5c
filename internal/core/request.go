package core

// #include <stdlib.h>
// #include "gowsgi.h"
import "C"

import (
	"io"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Request is one WSGI call as the core sees it, whatever protocol
// brought it: a front end (net/http, the HTTP/1.1 engine, ...) fills the
// environ and sets body and sink, the pool runs it on a Python thread, and
// finish completes the response. Its C half (gw_req) lives in C memory, so
// Go can keep sending the response after the Python thread has moved on.
type Request struct {
	app    *App
	c      *C.gw_req
	handle cgo.Handle

	arena   []byte       // view of c.arena
	entries []C.gw_entry // view of c.entries

	// Set by the front end for each request.
	body    io.Reader // the body past the preloaded bytes
	cleanup func()    // releases a spooled body
	held    int64     // bytes of the App's memory budget the body holds
	onDisk  int64     // bytes of the App's disk budget the body holds
	sink    Sink
	info    requestInfo
	isHead  bool
	pathBuf []byte  // the decoded path, reused
	joined  []byte  // a repeated header's values joined, reused
	repeats repeats // which headers repeat, reused

	// Response progress.
	hd       ResponseHead
	headSent bool
	declared int64  // the body length announced in the head, -1 if unknown
	sent     int64  // body bytes handed to the sink
	overrun  bool   // the application wrote past its Content-Length
	ending   Ending // how the exchange ends, as far as the core knows
	status   int

	// Its turn on a Python thread (see pool).
	owner    Owner         // the front end it goes back to
	queuedAt int64         // monotonic time it was queued
	done     chan struct{} // the thread is through with it
	serveErr error         // why it was not run

	// Run in Python, and the timeout watchdog's view of it.
	generation uint64 // counts this object's runs (see gw_interrupt)
	mu         sync.Mutex
	expired    atomic.Bool  // the watchdog answered for it
	pyStart    atomic.Int64 // monotonic start of the run (read by the watchdog)
	ioNanos    atomic.Int64 // time spent waiting for the client so far
	ioStart    atomic.Int64 // start of the current wait, 0 if none
	refs       atomic.Int32 // holders: its front end, an interruption in progress
}

const (
	initialArena   = 4096
	initialEntries = 48
)

func newRequest(a *App) *Request {
	r := &Request{app: a, done: make(chan struct{}, 1)}
	r.c = (*C.gw_req)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gw_req{}))))
	r.handle = cgo.NewHandle(r)
	r.c.handle = C.uintptr_t(r.handle)
	r.growArena(initialArena)
	r.growEntries(initialEntries)
	r.recycle()
	return r
}

// stamp records when the request began, for the access log (which alone
// needs the wall clock).
func (r *Request) stamp() {
	if r.app.access != nil {
		r.info.started = time.Now()
	}
}

// recycle makes r ready for its next request.
func (r *Request) recycle() {
	if r.cleanup != nil {
		r.cleanup()
	}
	r.giveBack()
	c := r.c
	c.arena_len, c.nentries, c.in_flags = 0, 0, 0
	c.body_off, c.body_len, c.body_total = 0, 0, -1
	r.body, r.cleanup, r.sink = nil, nil, nil
	r.info = requestInfo{}
	r.isHead = false
	r.headSent, r.overrun, r.ending = false, false, Open
	r.declared, r.sent, r.status = -1, 0, 0
	// A large arena from one big request is not kept for all later ones.
	if c.arena_cap > 1<<20 {
		C.free(unsafe.Pointer(c.arena))
		c.arena, c.arena_cap, r.arena = nil, 0, nil
		r.growArena(initialArena)
	}
}

// destroy frees the C memory; r must not be used after.
func (r *Request) destroy() {
	if r.cleanup != nil {
		r.cleanup()
	}
	r.giveBack()
	c := r.c
	C.free(unsafe.Pointer(c.arena))
	C.free(unsafe.Pointer(c.entries))
	C.free(unsafe.Pointer(c.head))
	C.free(unsafe.Pointer(c.hdr))
	C.free(unsafe.Pointer(c.body))
	C.free(unsafe.Pointer(c.chunks))
	C.free(unsafe.Pointer(c))
	r.handle.Delete()
	r.c, r.arena, r.entries = nil, nil, nil
}

func (r *Request) growArena(need int) {
	c := r.c
	newCap := int(c.arena_cap) * 2
	if newCap < int(c.arena_len)+need {
		newCap = int(c.arena_len) + need
	}
	p := C.realloc(unsafe.Pointer(c.arena), C.size_t(newCap))
	if p == nil {
		panic("gowsgi: out of memory")
	}
	c.arena, c.arena_cap = (*C.char)(p), C.uint32_t(newCap)
	r.arena = unsafe.Slice((*byte)(p), newCap)
}

func (r *Request) growEntries(need int) {
	c := r.c
	newCap := int(c.entries_cap) * 2
	if newCap < int(c.nentries)+need {
		newCap = int(c.nentries) + need
	}
	p := C.realloc(unsafe.Pointer(c.entries), C.size_t(newCap)*C.size_t(unsafe.Sizeof(C.gw_entry{})))
	if p == nil {
		panic("gowsgi: out of memory")
	}
	c.entries, c.entries_cap = (*C.gw_entry)(p), C.uint32_t(newCap)
	r.entries = unsafe.Slice((*C.gw_entry)(p), newCap)
}

// put copies s to the end of the arena and returns where it starts.
func put[T ~string | ~[]byte](r *Request, s T) uint32 {
	off := int(r.c.arena_len)
	if off+len(s) > len(r.arena) {
		r.growArena(len(s))
	}
	copy(r.arena[off:], s)
	r.c.arena_len = C.uint32_t(off + len(s))
	return uint32(off)
}

func (r *Request) addEntry(key int32, nameOff, nameLen, valOff, valLen uint32) {
	n := int(r.c.nentries)
	if n == len(r.entries) {
		r.growEntries(1)
	}
	r.entries[n] = C.gw_entry{
		key:      C.int32_t(key),
		name_off: C.uint32_t(nameOff), name_len: C.uint32_t(nameLen),
		val_off: C.uint32_t(valOff), val_len: C.uint32_t(valLen),
	}
	r.c.nentries = C.uint32_t(n + 1)
}

// setVar adds environ[key] = value for a key known to C.
func setVar[T ~string | ~[]byte](r *Request, key int32, value T) {
	off := put(r, value)
	r.addEntry(key, 0, 0, off, uint32(len(value)))
}

// setNamedVar adds an environ entry under a name C does not know.
func setNamedVar[T ~string | ~[]byte](r *Request, name string, value T) {
	if k, ok := knownKeys[name]; ok {
		setVar(r, k, value)
		return
	}
	noff := put(r, name)
	voff := put(r, value)
	r.addEntry(-1, noff, uint32(len(name)), voff, uint32(len(value)))
}

// setHeader adds the CGI variable of a request header: HTTP_ and the name
// upper-cased with '-' as '_'. Names holding '_' are dropped, so that a
// client cannot pass "X_Forwarded_For" for a proxy's X-Forwarded-For.
// Content-Type and Content-Length are the caller's (CONTENT_TYPE,
// CONTENT_LENGTH).
func setHeader[N ~string | ~[]byte, V ~string | ~[]byte](r *Request, name N, value V) {
	for i := 0; i < len(name); i++ {
		if name[i] == '_' {
			return
		}
	}
	off := int(r.c.arena_len)
	need := len("HTTP_") + len(name)
	if off+need > len(r.arena) {
		r.growArena(need)
	}
	b := r.arena[off : off+need]
	copy(b, "HTTP_")
	for i := 0; i < len(name); i++ {
		b[5+i] = cgiByte(name[i])
	}
	if k, ok := knownKeys[string(b)]; ok {
		setVar(r, k, value)
		return
	}
	r.c.arena_len = C.uint32_t(off + need)
	voff := put(r, value)
	r.addEntry(-1, uint32(off), uint32(need), voff, uint32(len(value)))
}

// cgiByte is a header name's byte in its CGI form: upper case, '-' as '_'.
func cgiByte(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return c - ('a' - 'A')
	case c == '-':
		return '_'
	}
	return c
}

// preload puts body bytes already read into the arena, where wsgi.input
// reads them without a callback.
func (r *Request) preload(b []byte) {
	off := put(r, b)
	r.c.body_off, r.c.body_len = C.uint32_t(off), C.uint32_t(len(b))
}

// preloadFrom reads exactly n body bytes from src into the arena.
func (r *Request) preloadFrom(src io.Reader, n int) error {
	off := int(r.c.arena_len)
	if off+n > len(r.arena) {
		r.growArena(n)
	}
	if _, err := io.ReadFull(src, r.arena[off:off+n]); err != nil {
		return err
	}
	r.c.arena_len = C.uint32_t(off + n)
	r.c.body_off, r.c.body_len = C.uint32_t(off), C.uint32_t(n)
	return nil
}

// keyNames are the names of the environ keys environ.c interns, by
// index; knownKeys maps them back.
var keyNames = func() []string {
	names := make([]string, C.GW_NKEYS)
	for i := range names {
		names[i] = C.GoString(C.gw_key_name(C.int(i)))
	}
	return names
}()

var knownKeys = func() map[string]int32 {
	m := make(map[string]int32, len(keyNames))
	for i, name := range keyNames {
		m[name] = int32(i)
	}
	return m
}()
