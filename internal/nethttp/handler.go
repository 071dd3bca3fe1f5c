// Package nethttp runs an App's requests that arrive through net/http
// (HTTP/1.x, HTTP/2, TLS): the App as an http.Handler.
package nethttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
)

// ServeHTTP runs the application for a request that arrived through
// net/http. http.ResponseWriter offers no way to choose a reason phrase,
// so the status line carries Go's standard one; the engine keeps the
// application's own.
func ServeHTTP(a *core.App, w http.ResponseWriter, hr *http.Request) {
	s := &sink{w: w, rc: http.NewResponseController(w)}
	s.send.Timeout, s.body.Timeout = a.Timeouts()
	defer s.clearDeadlines()
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
		s.in = hr.Body
		status = r.SetBody(pacedBody{s}, length, expect)
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
	in io.Reader // the request body
	// The waits for the client, bounded through the connection's
	// deadlines: the Python thread is free past them.
	send, body core.Pace
}

// paced runs one wait of p's direction with the deadline p leaves it.
func paced(p *core.Pace, setDeadline func(time.Time) error, wait func() (int, error)) (int, error) {
	start := time.Now()
	setDeadline(p.Deadline(start)) // ErrNotSupported (a test's recorder): no bound
	n, err := wait()
	p.Spent(start)
	p.Add(n)
	return n, err
}

func (s *sink) write(b []byte) error {
	_, err := paced(&s.send, s.rc.SetWriteDeadline, func() (int, error) { return s.w.Write(b) })
	return err
}

// clearDeadlines leaves the connection without the exchange's deadlines,
// for the next request on it.
func (s *sink) clearDeadlines() {
	s.rc.SetWriteDeadline(time.Time{})
	s.rc.SetReadDeadline(time.Time{})
}

// pacedBody reads the request body within the sink's body timeout.
type pacedBody struct{ s *sink }

func (b pacedBody) Read(p []byte) (int, error) {
	return paced(&b.s.body, b.s.rc.SetReadDeadline, func() (int, error) { return b.s.in.Read(p) })
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
		if err := s.write(a); err != nil {
			return err
		}
	}
	if len(b) > 0 {
		if err := s.write(b); err != nil {
			return err
		}
	}
	if flush {
		_, err := paced(&s.send, s.rc.SetWriteDeadline, func() (int, error) { return 0, s.rc.Flush() })
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	return nil
}

// SendFile sends the file a MiB at a time, each piece within the send
// timeout, through the ResponseWriter's ReadFrom (sendfile on plain TCP).
func (s *sink) SendFile(fd int, off, n int64) (int64, error) {
	var sent int64
	for sent < n {
		piece := min(n-sent, 1<<20)
		m, err := paced(&s.send, s.rc.SetWriteDeadline, func() (int, error) {
			k, err := core.WriteFileRange(s.w, fd, off+sent, piece)
			return int(k), err
		})
		sent += int64(m)
		if err != nil || int64(m) < piece {
			return sent, err
		}
	}
	return sent, nil
}

func (s *sink) End() error { return nil }

// Abort sends what was written; net/http ends the exchange when the
// handler returns.
func (s *sink) Abort() { s.rc.Flush() }
