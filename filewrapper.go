package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"io"
	"os"
	"runtime/cgo"
	"syscall"
)

//export goGWSendfile
func goGWSendfile(h C.uintptr_t, fd C.int, off, count C.int64_t) C.int64_t {
	r := cgo.Handle(h).Value().(*request)
	if !r.headSent && r.sendHead(int64(r.c.known_length)) != nil {
		return -1
	}
	if r.noBody {
		return count
	}
	n := int64(count)
	if r.declared >= 0 && n > r.declared-r.sent {
		n = r.declared - r.sent
	}
	sent, err := r.sink.sendFile(int(fd), int64(off), n)
	r.sent += sent
	if err != nil || sent < n {
		// The client went away, or the file shrank under us after its
		// length was announced: either way the response cannot complete.
		r.clientGone = true
		r.closeConn = true
		return -1
	}
	return C.int64_t(sent)
}

// copyFileRange writes n bytes of fd from off to w through an *os.File on
// a duplicate of fd, so that io.Copy can hand it to the kernel (sendfile)
// when w is a socket. The duplicate shares the file offset with the
// application's file object, which is not read again for this response.
func copyFileRange(w io.Writer, fd int, off, n int64) (int64, error) {
	dup, err := syscall.Dup(fd)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(dup), "wsgi.file_wrapper")
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, &io.LimitedReader{R: f, N: n})
}
