package logging

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// File is a log destination that can be reopened (SIGUSR1), so that log
// rotation can move the old file away.
type File struct {
	mu   sync.Mutex
	path string // "" for a standard stream, never reopened
	w    io.Writer
}

// Open opens a log destination: "-" (or "") is the given standard stream,
// anything else a file opened for appending.
func Open(path string, std *os.File) (*File, error) {
	if path == "-" || path == "" {
		return &File{w: std}, nil
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, w: f}, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(p)
}

// Capture makes the process's standard output and error this file
// (--capture-output): what the application prints lands in the error log.
// For a standard stream it does nothing. Call it again after Reopen.
func (f *File) Capture() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, ok := f.w.(*os.File)
	if f.path == "" || !ok {
		return nil
	}
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(file.Fd()), fd); err != nil {
			return err
		}
	}
	return nil
}

// Reopen opens the file's path anew; a failure keeps the old file.
func (f *File) Reopen() error {
	if f.path == "" {
		return nil
	}
	nf, err := openAppend(f.path)
	if err != nil {
		return err
	}
	f.mu.Lock()
	old := f.w
	f.w = nf
	f.mu.Unlock()
	if c, ok := old.(io.Closer); ok {
		c.Close()
	}
	return nil
}
