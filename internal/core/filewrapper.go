package core

import (
	"io"
	"os"
	"syscall"
)

// WriteFileRange writes n bytes of fd from off to w through an *os.File on
// a duplicate of fd, so that io.Copy can hand it to the kernel (sendfile)
// when w is a socket. The duplicate shares the file offset with the
// application's file object, which is not read again for this response.
func WriteFileRange(w io.Writer, fd int, off, n int64) (int64, error) {
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
