// Package logging writes the error log in gunicorn's format:
//
//	[2026-11-22 10:00:00 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000
//
// Attributes follow the message as key=value; a "traceback" attribute is
// written on the lines below it, as Python prints it.
package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LevelCritical is gunicorn's CRITICAL level.
const LevelCritical = slog.LevelError + 4

// ParseLevel reads gunicorn's --log-level names.
func ParseLevel(name string) (slog.Level, error) {
	switch strings.ToLower(name) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "critical":
		return LevelCritical, nil
	}
	return 0, fmt.Errorf("unknown log level %q (debug, info, warning, error, critical)", name)
}

// Handler is a slog.Handler writing gunicorn-style lines.
type Handler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	attrs []slog.Attr
	pid   string
}

// NewHandler returns a handler writing to w the records at level and above.
func NewHandler(w io.Writer, level slog.Leveler) *Handler {
	return &Handler{mu: new(sync.Mutex), w: w, level: level, pid: strconv.Itoa(os.Getpid())}
}

// WithPID returns a handler that writes pid in its lines instead of this
// process's: a helper process writes on behalf of the master.
func (h *Handler) WithPID(pid int) *Handler {
	h2 := *h
	h2.pid = strconv.Itoa(pid)
	return &h2
}

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *Handler) Handle(_ context.Context, rec slog.Record) error {
	var b bytes.Buffer
	t := rec.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("[2006-01-02 15:04:05 -0700] ["))
	b.WriteString(h.pid)
	b.WriteString("] [")
	b.WriteString(levelName(rec.Level))
	b.WriteString("] ")
	b.WriteString(rec.Message)
	var traceback string
	write := func(a slog.Attr) bool {
		if a.Key == "traceback" {
			traceback = a.Value.String()
			return true
		}
		if a.Key == "" {
			return true
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		v := a.Value.Resolve().String()
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	rec.Attrs(write)
	b.WriteByte('\n')
	if traceback != "" {
		b.WriteString(strings.TrimRight(traceback, "\n"))
		b.WriteByte('\n')
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &h2
}

// WithGroup is not used by gowsgi; groups are flattened.
func (h *Handler) WithGroup(string) slog.Handler { return h }

func levelName(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
