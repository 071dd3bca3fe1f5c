package gowsgi

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Shutdown lets the request in progress complete, closes idle
// connections at their keep-alive timeout, and refuses new ones.
func TestServerShutdown(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:sleep", Threads: 2})
	srv := &Server{App: app}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /?0 HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil {
		t.Fatal(err)
	}

	done := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/?0.5")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- resp.Status + " " + string(b)
	}()
	waitFor(t, "the slow request to start", func() bool { return app.core.Busy() == 1 && srv.init().ActiveConns() == 2 })
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "200 OK slept 0.5" {
		t.Errorf("the request in progress got %q", got)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the idle connection: %v, want closed", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Errorf("still accepting")
	}
}

// A kept-alive connection idle as Shutdown begins is not closed under a
// client that does not retry: a request on it is answered, with
// Connection: close, and a response started while draining says so too.
func TestServerShutdownAnswersKeptConnections(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:sleep", Threads: 2})
	srv := &Server{App: app}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	kept := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /?0 HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.Close {
			t.Fatalf("first response: %v (close %v)", err, resp != nil && resp.Close)
		}
		io.ReadAll(resp.Body)
		return c, br
	}
	idle, idleR := kept()
	busy, busyR := kept()
	// A request whose response starts after Shutdown began.
	io.WriteString(busy, "GET /?0.5 HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, "the slow request to start", func() bool { return app.core.Busy() == 1 })

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	waitFor(t, "the shutdown to begin", func() bool {
		_, err := net.Dial("tcp", ln.Addr().String())
		return err != nil
	})
	io.WriteString(idle, "GET /?0 HTTP/1.1\r\nHost: h\r\n\r\n")
	for name, br := range map[string]*bufio.Reader{"idle": idleR, "busy": busyR} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the %s connection's request during shutdown: %v", name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("the %s connection's request during shutdown: %s %q, Connection: close %v", name, resp.Status, b, resp.Close)
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// Pipelined requests are answered in order.
func TestServerPipelining(t *testing.T) {
	tg := serve(t, variant{engine: true}, Options{App: "conformance:hello"})
	c := dial(t, tg.addr)
	io.WriteString(c, strings.Repeat("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 50))
	for i, got := range readResponses(t, bufio.NewReader(c), 50, "GET") {
		if got != "200 OK|Hello, world!" {
			t.Fatalf("response %d: %q", i, got)
		}
	}
	// A request split across writes, the rest sent only after an answer.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTT")
	br := bufio.NewReader(c)
	readResponses(t, br, 1, "GET")
	io.WriteString(c, "P/1.1\r\nHost: h\r\n\r\n")
	if got := readResponses(t, br, 1, "GET"); got[0] != "200 OK|Hello, world!" {
		t.Errorf("split request: %q", got)
	}
}

// Malformed requests get a 4xx and a closed connection; the server goes
// on serving.
func TestServerMalformedRequests(t *testing.T) {
	tg := serve(t, variant{engine: true}, Options{App: "conformance:hello"})
	for req, status := range map[string]string{
		"GET / HTTP/1.1\nHost: h\n\n":                  "400",
		"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n": "400",
		"GET / HTTP/1.1\r\nHost : h\r\n\r\n":           "400",
		"GET / HTTP/1.1\r\n\r\n":                       "400",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n": "400",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n":          "400",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n":                              "400",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n":                "501",
		"GET / HTTP/2.0\r\nHost: h\r\n\r\n":                                                     "505",
		"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n":                                                  "400",
		"G@T / HTTP/1.1\r\nHost: h\r\n\r\n":                                                     "400",
		"GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n":                                "417",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n":                        "400",
	} {
		out := raw(t, tg.addr, req)
		if !strings.HasPrefix(out, "HTTP/1.1 "+status+" ") || !strings.Contains(out, "Connection: close") {
			t.Errorf("%q: %q, want %s", req, out, status)
		}
	}
	// A bad chunk size in the body: the application sees an error reading.
	out := raw(t, tg.addr, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Errorf("bad chunk size: %q", out)
	}
	if resp, body := tg.get(t, "/"); body != "Hello, world!" {
		t.Errorf("after malformed requests: %s %q", resp.Status, body)
	}
}

// A client that never finishes its request head is cut off after the
// header timeout; others are served meanwhile.
func TestServerSlowHeaders(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:hello"})
	addr := serveEngine(t, app, func(s *Server) { s.HeaderTimeout = 300 * time.Millisecond })
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHo")
	tg := &target{url: "http://" + addr, client: http.DefaultClient}
	if _, body := tg.get(t, "/"); body != "Hello, world!" {
		t.Errorf("while a client is slow: %q", body)
	}
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Errorf("the slow client was not cut off cleanly: %v", err)
	}
}

// A response whose request body the server will not drain after it (a
// body whose client waits for "100 Continue", or 256 KiB or more left
// unread) says Connection: close, so its client does not send the next
// request on a connection about to close.
func TestUnreadBodySaysClose(t *testing.T) {
	tg := serve(t, variant{engine: true}, Options{App: "conformance:hello"})
	for _, c := range []struct {
		name, head string
		body       int
		close      bool
	}{
		{"small unread body", "Content-Length: 1000\r\n", 1000, false},
		{"1 MiB unread body", "Content-Length: 1048576\r\n", 1 << 20, true},
		{"100-continue never sent", "Content-Length: 100000\r\nExpect: 100-continue\r\n", 0, true},
	} {
		conn := dial(t, tg.addr)
		io.WriteString(conn, "POST / HTTP/1.1\r\nHost: h\r\n"+c.head+"\r\n")
		go conn.Write(make([]byte, c.body)) // the server may stop reading it
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if resp.StatusCode != 200 || resp.Close != c.close {
			t.Errorf("%s: %s, Connection: close %v, want %v", c.name, resp.Status, resp.Close, c.close)
		}
	}
}
