package gowsgi

// Bounds a client cannot exceed: each is tried by going past it
// (docs/reliability.md lists them).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A chunked body past the per-request limit gets 413 and its connection
// closed; the spool on disk never held more than the limit and is gone.
func TestBoundChunkedBodyLimit(t *testing.T) {
	const limit = 1 << 20
	app, log, _ := newApp(t, Options{App: "conformance:no_read", LimitRequestBody: limit, TempDir: t.TempDir()})
	addr := serveEngine(t, app, nil)
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("x", 64<<10))
	go func() {
		for i := 0; i < 64; i++ { // 4 MiB, four times the limit
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log)
	}
	if resp.StatusCode != 413 || !resp.Close {
		t.Errorf("%s, close %v: want 413 and the connection closed", resp.Status, resp.Close)
	}
	disk := app.core.Disk()
	waitFor(t, "the spool to be released", func() bool { return disk.Used() == 0 })
	if peak := disk.Peak(); peak == 0 || peak > limit+64<<10 {
		t.Errorf("the spool held %d bytes at most; want some, and no more than the limit %d and one buffer", peak, limit)
	}
}

// A chunked body past the worker's disk budget gets 503; the budget is
// whole again after, and a body within it is served.
func TestBoundUploadDisk(t *testing.T) {
	app, log, _ := newApp(t, Options{App: "conformance:input_hash", UploadDiskLimit: 256 << 10, TempDir: t.TempDir()})
	addr := serveEngine(t, app, nil)
	post := func(size int) int {
		c := dial(t, addr)
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", size, strings.Repeat("y", size))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%v\nlog:\n%s", err, log)
		}
		return resp.StatusCode
	}
	if got := post(1 << 20); got != 503 {
		t.Errorf("1 MiB over a 256 KiB disk budget: %d, want 503", got)
	}
	if got := post(200 << 10); got != 200 {
		t.Errorf("200 KiB within it: %d, want 200", got)
	}
}

// The connection beyond MaxConnections gets 503; the others are served.
func TestBoundMaxConnections(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	addr := serveEngine(t, app, func(s *Server) { s.MaxConnections = 2 })
	a, b := dial(t, addr), dial(t, addr)
	if statusOf(t, a) != 200 || statusOf(t, b) != 200 {
		t.Fatal("the first two connections were not served")
	}
	if got := statusOf(t, dial(t, addr)); got != 503 {
		t.Errorf("a third connection: %d, want 503", got)
	}
	b.Close()
	waitFor(t, "a connection's place to be free", func() bool { return statusOf(t, dial(t, addr)) == 200 })
}

// At the connection limit, a connection slow to send its request head
// (for a second) gives its place to a new one, so that clients that
// trickle their heads cannot shut every other client out until the head
// timeout; a connection kept alive between requests keeps its place.
func TestBoundMaxConnectionsSlowHeadGivesWay(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	// The kept connection must not time out meanwhile.
	addr := serveEngine(t, app, func(s *Server) { s.MaxConnections, s.KeepAlive = 3, time.Minute })
	kept := dial(t, addr)
	if got := statusOf(t, kept); got != 200 {
		t.Fatalf("the first connection: %d", got)
	}
	slow := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, c := range slow {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")
	}
	waitFor(t, "a new connection to be served in a slow one's place", func() bool {
		return statusOf(t, dial(t, addr)) == 200
	})
	// The limit holds: of the two slow ones, one was closed.
	answered := 0
	for _, c := range slow {
		io.WriteString(c, "\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode == 200 {
			answered++
		}
	}
	if answered != 1 {
		t.Errorf("%d of the two slow connections answered once their heads came, want 1 (the other closed for the new one)", answered)
	}
	if got := statusOf(t, kept); got != 200 {
		t.Errorf("the kept connection: %d, want 200 (it keeps its place)", got)
	}
}

// statusOf sends a GET on c and returns the response's status, its body
// read.
func statusOf(t *testing.T, c net.Conn) int {
	t.Helper()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// read() of a body whose Content-Length claims 16 GB reads what arrives:
// the short body then fails as any short body does (OSError), with no
// MemoryError from reserving the claim.
func TestBoundClaimedContentLength(t *testing.T) {
	app, log, _ := newApp(t, Options{App: "conformance:input_read", LimitRequestBody: -1})
	addr := serveEngine(t, app, nil)
	c := dial(t, addr)
	io.WriteString(c, "POST /?read HTTP/1.1\r\nHost: x\r\nContent-Length: 16000000000\r\n\r\n0123456789")
	c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || strings.Contains(log.String(), "MemoryError") ||
		!strings.Contains(log.String(), "the client closed the connection before sending the whole body") {
		t.Errorf("%s; want 500 from the short body's OSError, no MemoryError; log:\n%s", resp.Status, log)
	}
}

// boundedServers serves app with the engine (configured by engine) and
// with net/http, on free ports of 127.0.0.1.
func boundedServers(t *testing.T, opts Options, engine func(*Server)) (*App, map[string]string) {
	app, _, _ := newApp(t, opts)
	hs := httptest.NewServer(app)
	t.Cleanup(hs.Close)
	return app, map[string]string{"engine": serveEngine(t, app, engine), "nethttp": hs.Listener.Addr().String()}
}

// A client that stops reading a streamed response frees the only Python
// thread after SendTimeout (Server's for the engine, Options' for
// net/http): another request is served.
func TestBoundSendTimeout(t *testing.T) {
	opts := Options{App: "conformance:big_stream", Threads: 1, SendTimeout: 500 * time.Millisecond}
	app, addrs := boundedServers(t, opts, func(s *Server) { s.SendTimeout = 500 * time.Millisecond })
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) { boundSendTimeout(t, app, addr) })
	}
}

func boundSendTimeout(t *testing.T, app *App, addr string) {
	stalled := dial(t, addr)
	io.WriteString(stalled, "GET /?1000 HTTP/1.1\r\nHost: x\r\n\r\n") // 1000 MiB, never read
	waitFor(t, "the stalled response to start", func() bool { return app.core.Busy() == 1 })
	c := dial(t, addr)
	io.WriteString(c, "GET /?1 HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a second request while the first client does not read: %v", err)
	}
	if n, err := io.Copy(io.Discard, resp.Body); resp.StatusCode != 200 || n != 1<<20 || err != nil {
		t.Errorf("%s, %d bytes, %v: want 200 and 1 MiB", resp.Status, n, err)
	}
}

// A client that sends a body one byte at a time cannot hold the only
// Python thread past BodyTimeout: another request is served.
func TestBoundBodyTimeout(t *testing.T) {
	opts := Options{App: "conformance:input_hash", Threads: 1, BodyTimeout: 500 * time.Millisecond}
	app, addrs := boundedServers(t, opts, func(s *Server) { s.BodyTimeout = 500 * time.Millisecond })
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) { boundBodyTimeout(t, app, addr) })
	}
}

func boundBodyTimeout(t *testing.T, app *App, addr string) {
	slow := dial(t, addr)
	io.WriteString(slow, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond): // faster than the timeout: a per-read deadline never fires
				if _, err := slow.Write([]byte("z")); err != nil {
					return
				}
			}
		}
	}()
	waitFor(t, "the trickled request to start", func() bool { return app.core.Busy() == 1 })
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a second request while the first trickles its body: %v %v", resp, err)
	}
}
