// Package nethttp runs an App's requests that arrive through net/http
// (HTTP/1.x, HTTP/2, TLS): the App as an http.Handler.
package nethttp

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/core"
)

// ServeHTTP runs the application for a request that arrived through
// net/http. http.ResponseWriter offers no way to choose a reason phrase,
// so the status line carries Go's standard one; the engine keeps the
// application's own.
func ServeHTTP(a *core.App, w http.ResponseWriter, hr *http.Request) {
	s := &sink{w: w, rc: http.NewResponseController(w)}
	r := a.Begin(s, nil)
	ended := false
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		// Logged here, with the request, rather than by net/http; a 500
		// if nothing was sent, else the response cut short.
		if ended {
			a.Log().Error("panic serving a request", "request", hr.Method+" "+hr.RequestURI, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			panic(http.ErrAbortHandler)
		}
		a.Log().Error("panic serving a request", "request", r.Describe(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		sent := r.HeadSent()
		r.Abandon()
		r.End()
		if sent {
			panic(http.ErrAbortHandler)
		}
	}()
	status := r.EnvironFromHTTP(hr)
	length := hr.ContentLength
	switch {
	case length < 0:
		length = core.BodyUnknown
	case length == 0 && hr.Header.Get("Content-Length") == "":
		length = core.BodyAbsent
	}
	expect := strings.EqualFold(hr.Header.Get("Expect"), "100-continue")
	// Serve's steps, so that a panic in End (the access log's writer) is
	// not followed by a second End of a request already released.
	if status == 0 {
		status = r.SetBody(hr.Body, length, expect)
	}
	if status != 0 {
		r.Refuse(status)
	} else {
		r.Run()
	}
	ended = true
	if r.End() == core.Cut {
		// Cut the response short where net/http would complete it (it
		// would end a chunked body cleanly), after what was sent so far.
		s.rc.Flush()
		panic(http.ErrAbortHandler)
	}
}

// sink sends a response through an http.ResponseWriter.
type sink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

var errInformational = errors.New("a 1xx status cannot end a response")

func (s *sink) WriteHead(h *core.ResponseHead) error {
	hdr := s.w.Header()
	for _, f := range h.Fields {
		hdr.Add(string(f[0]), string(f[1]))
	}
	if h.Declared < 0 && h.Length >= 0 {
		hdr.Set("Content-Length", strconv.FormatInt(h.Length, 10))
	}
	if h.Close {
		hdr.Set("Connection", "close")
	}
	s.w.WriteHeader(h.Status)
	if h.Status < 200 && h.Status != http.StatusSwitchingProtocols {
		// net/http sends 1xx as interim responses and would follow with a
		// 200: end the exchange here instead.
		return errInformational
	}
	return nil
}

func (s *sink) WriteBody(a, b []byte, flush bool) error {
	if len(a) > 0 {
		if _, err := s.w.Write(a); err != nil {
			return err
		}
	}
	if len(b) > 0 {
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	if flush {
		if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	return nil
}

func (s *sink) SendFile(fd int, off, n int64) (int64, error) {
	return core.WriteFileRange(s.w, fd, off, n)
}

func (s *sink) End() error { return nil }

// Abort sends what was written; net/http ends the exchange when the
// handler returns.
func (s *sink) Abort() { s.rc.Flush() }
