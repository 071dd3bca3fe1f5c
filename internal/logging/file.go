package logging

import (
	"io"
	"os"
	"sync"
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
