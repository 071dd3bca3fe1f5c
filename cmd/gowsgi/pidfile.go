package main

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// pidFile is --pid. A master started by SIGUSR2 writes PATH.2 while the
// master that started it runs, as gunicorn does, and takes PATH once that
// one is gone ("Master has been promoted").
type pidFile struct {
	mu      sync.Mutex
	path    string // the name it has now; "" without --pid
	final   string
	parent  int
	log     *slog.Logger
	written bool
}

func newPidFile(path string, parent int, log *slog.Logger) *pidFile {
	p := &pidFile{path: path, final: path, parent: parent, log: log}
	if path != "" && parent != 0 {
		p.path = path + ".2"
	}
	return p
}

func (p *pidFile) write() error {
	if p.parent != 0 {
		go p.watchParent()
	}
	if p.path == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := os.WriteFile(p.path, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("--pid: %w", err)
	}
	p.written = true
	return nil
}

// watchParent renames PATH.2 to PATH once the old master has exited.
func (p *pidFile) watchParent() {
	for range time.Tick(time.Second) {
		if os.Getppid() == p.parent {
			continue
		}
		p.mu.Lock()
		if p.written && os.Rename(p.path, p.final) == nil {
			p.path = p.final
		}
		p.mu.Unlock()
		p.log.Info("Master has been promoted: the master " + fmt.Sprint(p.parent) + " is gone")
		return
	}
}

func (p *pidFile) remove() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.written {
		os.Remove(p.path)
		p.written = false
	}
}
