package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
)

// ServeHTTP runs the application for a request that arrived through
// net/http (HTTP/1.x, HTTP/2, TLS). http.ResponseWriter offers no way to
// choose a reason phrase, so the status line carries Go's standard one;
// Server keeps the application's own.
func (a *App) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r := a.getRequest()
	defer a.putRequest(r)
	s := &httpSink{w: w, rc: http.NewResponseController(w), r: r}
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			// Logged here, with the request, rather than by net/http; a 500
			// if nothing was sent, else the response cut short.
			a.log.Error("panic serving a request", "request", hr.Method+" "+hr.RequestURI, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if r.headSent {
				panic(http.ErrAbortHandler)
			}
			r.abandon()
		} else if v != nil {
			panic(v)
		}
	}()
	r.sink = s
	r.stamp()
	defer a.access.log(r)
	r.isHead = hr.Method == http.MethodHead

	if status := r.environFromHTTP(hr); status != 0 {
		r.respond(status, http.StatusText(status))
		return
	}
	length := hr.ContentLength
	switch {
	case length < 0:
		length = unknownBody
	case length == 0 && hr.Header.Get("Content-Length") == "":
		length = noBody
	}
	expect := strings.EqualFold(hr.Header.Get("Expect"), "100-continue")
	if status, err := r.setBody(hr.Body, length, expect); status != 0 {
		a.log.Info("rejected request body", "request", hr.Method+" "+hr.RequestURI, "error", err)
		r.respond(status, http.StatusText(status))
		return
	}
	if err := a.pool.serve(r); err != nil {
		a.log.Warn("request not served", "request", hr.Method+" "+hr.RequestURI, "reason", err)
		r.respond(http.StatusServiceUnavailable, "Service Unavailable", [2]string{"Retry-After", "1"})
		return
	}
	if r.clientGone && r.headSent {
		// Cut the response short where net/http would complete it (it
		// would end a chunked body cleanly), after what was sent so far.
		s.rc.Flush()
		panic(http.ErrAbortHandler)
	}
}

// environFromHTTP fills the environ from a net/http request. It returns 0,
// or the status to answer instead: 404 for a path outside the mount
// prefix, 400 for scheme headers that disagree.
func (r *request) environFromHTTP(hr *http.Request) int {
	defer afterEnviron.run(r)
	setVar(r, C.GW_K_REQUEST_METHOD, hr.Method)
	if !setPath(r, hr.URL.Path) {
		return http.StatusNotFound
	}
	setVar(r, C.GW_K_QUERY_STRING, hr.URL.RawQuery)
	setVar(r, C.GW_K_REQUEST_URI, hr.RequestURI)
	setVar(r, C.GW_K_RAW_URI, hr.RequestURI)
	setVar(r, C.GW_K_SERVER_PROTOCOL, hr.Proto)
	setRemote(r, hr.RemoteAddr)
	https, ok := r.app.proxy.httpScheme(hr)
	if !ok {
		return http.StatusBadRequest // trusted scheme headers that disagree (proxy.go)
	}
	setScheme(r, https)
	localName, localPort := "", ""
	if la, ok := hr.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		localName, localPort = splitHostPort(la.String())
	}
	setServer(r, hr.Host, localName, localPort, https)
	if hr.Host != "" {
		setVar(r, C.GW_K_HTTP_HOST, hr.Host)
	}
	for name, values := range hr.Header {
		switch name {
		case "Content-Type":
			setVar(r, C.GW_K_CONTENT_TYPE, values[0])
		case "Content-Length":
			// CONTENT_LENGTH comes from setBody, which knows the body.
		case "Cookie":
			setHeader(r, name, strings.Join(values, "; "))
		default:
			if len(values) == 1 {
				setHeader(r, name, values[0])
			} else {
				setHeader(r, name, strings.Join(values, ", "))
			}
		}
	}
	return 0
}

// httpSink sends a response through an http.ResponseWriter.
type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	r  *request
}

var errInformational = errors.New("a 1xx status cannot end a response")

func (s *httpSink) writeHead(h *responseHead, length int64) error {
	hdr := s.w.Header()
	for _, f := range h.fields {
		hdr.Add(string(f[0]), string(f[1]))
	}
	if h.declared < 0 && length >= 0 {
		hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	if s.r.closeConn {
		hdr.Set("Connection", "close")
	}
	s.w.WriteHeader(h.status)
	if h.status < 200 && h.status != http.StatusSwitchingProtocols {
		// net/http sends 1xx as interim responses and would follow with a
		// 200: end the exchange here instead.
		return errInformational
	}
	return nil
}

func (s *httpSink) writeBody(a, b []byte, flush bool) error {
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

func (s *httpSink) sendFile(fd int, off, n int64) (int64, error) {
	return copyFileRange(s.w, fd, off, n)
}

func (s *httpSink) end() error { return nil }

// abort sends what was written; net/http ends the exchange when the
// handler returns.
func (s *httpSink) abort() { s.rc.Flush() }
