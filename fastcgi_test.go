package gowsgi

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/fcgi"
)

// The FastCGI protocol itself, spoken directly: what nginx does not
// exercise (management records, aborts, multiplexing, malformed records).

// serveFastCGI serves the conformance application name with FastCGIServer
// on a free port and returns its address.
func serveFastCGI(t *testing.T, name string, opts Options) (string, *syncBuffer) {
	t.Helper()
	opts.App = "conformance:" + name
	app, log, _ := newApp(t, opts)
	ln := listenLocal(t)
	serveUntilCleanup(t, &FastCGIServer{App: app}, ln)
	return ln.Addr().String(), log
}

// fcgiClient speaks FastCGI to the server.
type fcgiClient struct {
	t  *testing.T
	c  net.Conn
	rd *fcgi.Reader
}

func dialFastCGI(t *testing.T, addr string) *fcgiClient {
	c := dial(t, addr)
	return &fcgiClient{t: t, c: c, rd: fcgi.NewReader(c)}
}

func (f *fcgiClient) send(typ uint8, id uint16, content []byte) {
	f.t.Helper()
	if err := fcgi.WriteRecord(f.c, typ, id, content); err != nil {
		f.t.Fatal(err)
	}
}

// begin sends a request's begin record and variables (split in records
// of at most split bytes), and its stdin unless stdin is nil.
func (f *fcgiClient) begin(id uint16, keep bool, vars []string, split int, stdin []byte) {
	f.t.Helper()
	var flags uint8
	if keep {
		flags = fcgi.FlagKeepConn
	}
	f.send(fcgi.TypeBeginRequest, id, fcgi.AppendBeginRequest(nil, fcgi.RoleResponder, flags))
	var params []byte
	for i := 0; i+1 < len(vars); i += 2 {
		params = fcgi.AppendParam(params, vars[i], vars[i+1])
	}
	for len(params) > 0 {
		n := min(split, len(params))
		f.send(fcgi.TypeParams, id, params[:n])
		params = params[n:]
	}
	f.send(fcgi.TypeParams, id, nil)
	if stdin != nil {
		fcgi.WriteStream(f.c, fcgi.TypeStdin, id, stdin)
		f.send(fcgi.TypeStdin, id, nil)
	}
}

// response reads records until the end-request of id and returns the
// stdout stream and the protocol status.
func (f *fcgiClient) response(id uint16) (string, uint8) {
	f.t.Helper()
	var out bytes.Buffer
	for {
		rec, err := f.rd.Next()
		if err != nil {
			f.t.Fatalf("reading the response: %v (so far %q)", err, out.String())
		}
		if rec.ID != id {
			f.t.Fatalf("record of type %d for request %d, want %d", rec.Type, rec.ID, id)
		}
		switch rec.Type {
		case fcgi.TypeStdout:
			out.Write(rec.Content)
		case fcgi.TypeEndRequest:
			return out.String(), rec.Content[4]
		}
	}
}

var getVars = []string{"REQUEST_METHOD", "GET", "SERVER_NAME", "example.com", "SERVER_PORT", "8080",
	"SERVER_PROTOCOL", "HTTP/1.1", "QUERY_STRING", "", "PATH_INFO", "/p"}

func TestFastCGIProtocol(t *testing.T) {
	addr, _ := serveFastCGI(t, "environ", Options{})

	t.Run("get-values", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		f.send(fcgi.TypeGetValues, 0, fcgi.AppendParam(fcgi.AppendParam(nil, "FCGI_MPXS_CONNS", ""), "FCGI_MAX_REQS", ""))
		rec, err := f.rd.Next()
		if err != nil || rec.Type != fcgi.TypeGetValuesResult {
			t.Fatalf("%+v %v", rec, err)
		}
		pairs, _ := fcgi.ParseParams(rec.Content, nil)
		got := map[string]string{}
		for _, p := range pairs {
			got[string(p[0])] = string(p[1])
		}
		if got["FCGI_MPXS_CONNS"] != "0" || got["FCGI_MAX_REQS"] == "" {
			t.Errorf("get-values answered %v", got)
		}
		// An unknown management record is answered "unknown type".
		f.send(42, 0, nil)
		if rec, err := f.rd.Next(); err != nil || rec.Type != fcgi.TypeUnknownType || rec.Content[0] != 42 {
			t.Errorf("unknown type: %+v %v", rec, err)
		}
	})

	t.Run("keep-conn, split params, https", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		for id := uint16(1); id <= 3; id++ {
			vars := append(append([]string(nil), getVars...), "HTTPS", "on", "HTTP_X_LONG", strings.Repeat("v", 300))
			f.begin(id, true, vars, 7, []byte{})
			out, status := f.response(id)
			if status != fcgi.StatusRequestComplete || !strings.HasPrefix(out, "Status: 200 OK\r\n") {
				t.Fatalf("request %d: status %d, %q", id, status, out)
			}
			for _, want := range []string{`"wsgi.url_scheme": "https"`, `"SERVER_NAME": "example.com"`, `"SERVER_PORT": "8080"`, `"PATH_INFO": "/p"`, strings.Repeat("v", 300)} {
				if !strings.Contains(out, want) {
					t.Errorf("request %d: no %s in %q", id, want, out)
				}
			}
		}
	})

	// A front server may send a repeated header as repeated variables
	// (nginx before 1.23 does): joined as over HTTP. Other variables given
	// twice keep their last value.
	t.Run("repeated variables", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		vars := append(append([]string(nil), getVars...), "HTTP_COOKIE", "a=1", "HTTP_X_CUSTOM", "one", "HTTP_COOKIE", "b=2",
			"HTTP_X_CUSTOM", "two", "SCRIPT_NAME", "/whole/path", "SCRIPT_NAME", "", "REQUEST_URI", "/p?q")
		f.begin(1, false, vars, 1000, []byte{})
		out, _ := f.response(1)
		for _, want := range []string{`"HTTP_COOKIE": "a=1; b=2"`, `"HTTP_X_CUSTOM": "one, two"`, `"SCRIPT_NAME": ""`, `"RAW_URI": "/p?q"`, `"REQUEST_URI": "/p?q"`} {
			if !strings.Contains(out, want) {
				t.Errorf("no %s in %q", want, out)
			}
		}
	})

	t.Run("multiplexing refused", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		f.begin(1, true, getVars, 1000, nil) // its stdin not sent yet: in progress
		f.send(fcgi.TypeBeginRequest, 2, fcgi.AppendBeginRequest(nil, fcgi.RoleResponder, fcgi.FlagKeepConn))
		if _, status := f.response(2); status != fcgi.StatusCantMpxConn {
			t.Errorf("a second request at once: protocol status %d, want FCGI_CANT_MPX_CONN", status)
		}
		f.send(fcgi.TypeStdin, 1, nil)
		if out, status := f.response(1); status != 0 || !strings.HasPrefix(out, "Status: 200") {
			t.Errorf("the first request: %d %q", status, out)
		}
	})

	t.Run("abort", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		vars := append(append([]string(nil), getVars...), "CONTENT_LENGTH", "1000000")
		f.begin(1, true, vars, 1000, nil)
		fcgi.WriteStream(f.c, fcgi.TypeStdin, 1, make([]byte, 100))
		f.send(fcgi.TypeAbortRequest, 1, nil)
		out, status := f.response(1)
		if status != fcgi.StatusRequestComplete {
			t.Errorf("aborted: protocol status %d", status)
		}
		if strings.HasPrefix(out, "Status: 200") {
			t.Errorf("an aborted request answered as complete: %q", out)
		}
		// The kept connection serves the next request.
		f.begin(2, true, getVars, 1000, []byte{})
		if out, _ := f.response(2); !strings.HasPrefix(out, "Status: 200") {
			t.Errorf("after the abort: %q", out)
		}
	})

	t.Run("no keep-conn closes", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		f.begin(1, false, getVars, 1000, []byte{})
		f.response(1)
		if _, err := f.rd.Next(); err != io.EOF {
			t.Errorf("after a request without FCGI_KEEP_CONN: %v, want the connection closed", err)
		}
	})

	t.Run("missing method is 400", func(t *testing.T) {
		f := dialFastCGI(t, addr)
		f.begin(1, false, []string{"PATH_INFO", "/"}, 1000, []byte{})
		if out, _ := f.response(1); !strings.HasPrefix(out, "Status: 400") {
			t.Errorf("%q", out)
		}
	})

	for _, c := range []struct{ name, bytes string }{
		{"HTTP instead", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"version 9", "\x09\x01\x00\x01\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"},
		{"short begin", "\x01\x01\x00\x01\x00\x02\x00\x00\x00\x01"},
		{"cut", "\x01\x01\x00\x01\x00\x08"},
	} {
		t.Run("malformed: "+c.name, func(t *testing.T) {
			// The client stops sending: a record cut short is an error.
			conn := dial(t, addr)
			io.WriteString(conn, c.bytes)
			conn.(*net.TCPConn).CloseWrite()
			if got, err := io.ReadAll(conn); err != nil || len(got) > 0 {
				t.Errorf("answered %q (%v), want the connection closed", got, err)
			}
			// The server stays up.
			f := dialFastCGI(t, addr)
			f.begin(1, false, getVars, 1000, []byte{})
			if out, _ := f.response(1); !strings.HasPrefix(out, "Status: 200") {
				t.Errorf("next request: %q", out)
			}
		})
	}
}

// TestFastCGIErrorAfterHead: an error after the head closes the connection
// without an end-request record, so the front server sees the response
// incomplete.
func TestFastCGIErrorAfterHead(t *testing.T) {
	addr, _ := serveFastCGI(t, "boom_after", Options{})
	f := dialFastCGI(t, addr)
	f.begin(1, true, getVars, 1000, []byte{})
	var out bytes.Buffer
	for {
		rec, err := f.rd.Next()
		if err != nil {
			break
		}
		if rec.Type == fcgi.TypeEndRequest {
			t.Fatalf("an end-request record after %q", out.String())
		}
		out.Write(rec.Content)
	}
	if !strings.Contains(out.String(), strings.Repeat("x", 100)) {
		t.Errorf("the body before the error: %q", out.String())
	}
}

// A FastCGI connection waits at most IdleTimeout for its first request
// and for each next one; a request that runs longer than that is not cut.
func TestFastCGIIdleTimeout(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:sleep"})
	ln := listenLocal(t)
	serveUntilCleanup(t, &FastCGIServer{App: app, IdleTimeout: 300 * time.Millisecond}, ln)
	closed := func(f *fcgiClient) bool {
		f.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := f.c.Read(make([]byte, 1))
		return err == io.EOF
	}
	if f := dialFastCGI(t, ln.Addr().String()); !closed(f) {
		t.Error("a connection that sent nothing was not closed")
	}
	f := dialFastCGI(t, ln.Addr().String())
	sleepVars := append(slices.Clone(getVars[:8]), "QUERY_STRING", "0.8", "PATH_INFO", "/")
	f.begin(1, true, sleepVars, 1<<16, []byte{})
	if out, status := f.response(1); status != fcgi.StatusRequestComplete || !strings.HasSuffix(out, "slept 0.8") {
		t.Fatalf("a request longer than the idle timeout: %q (status %d)", out, status)
	}
	if !closed(f) {
		t.Error("a kept connection idle after its request was not closed")
	}
}

// A draining FastCGI server keeps a kept connection that waits for a
// request for KeptGrace: a request the front server sends on it then is
// answered whole, and the connection closes after it; one left idle
// closes at the grace's end, and Shutdown returns.
func TestFastCGIDrainKeepsIdle(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:hello"})
	ln := listenLocal(t)
	srv := &FastCGIServer{App: app}
	go srv.Serve(ln)
	kept, idle := dialFastCGI(t, ln.Addr().String()), dialFastCGI(t, ln.Addr().String())
	for _, f := range []*fcgiClient{kept, idle} {
		f.begin(1, true, getVars, 1<<16, []byte{})
		if _, status := f.response(1); status != fcgi.StatusRequestComplete {
			t.Fatalf("before the drain: status %d", status)
		}
	}
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	waitFor(t, "the drain to begin", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	kept.begin(2, true, getVars, 1<<16, []byte{})
	if out, status := kept.response(2); status != fcgi.StatusRequestComplete || !strings.Contains(out, "Hello") {
		t.Errorf("a request on a kept connection as the server drains: %q (status %d)", out, status)
	}
	for name, f := range map[string]*fcgiClient{"after its request": kept, "left idle": idle} {
		f.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := f.c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("the kept connection %s: %v, want it closed", name, err)
		}
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Shutdown did not return")
	}
}
