package gowsgi

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
)

// The Go side of one request, through each HTTP front end: a kept-alive
// connection sends the hello request and reads its answer, b.N times. The
// Python side is the same four lines of hello for both; what differs, and
// what allocations report, is the front end's and the core's Go.

func BenchmarkEngineHello(b *testing.B) {
	app := benchApp(b)
	srv := &Server{App: app}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown(b.Context()) })
	benchRequests(b, ln.Addr().String())
}

func BenchmarkNetHTTPHello(b *testing.B) {
	app := benchApp(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: app}
	go hs.Serve(ln)
	b.Cleanup(func() { hs.Close() })
	benchRequests(b, ln.Addr().String())
}

func benchApp(b *testing.B) *App {
	b.Helper()
	app, err := New(Options{App: "conformance:hello", Logger: discardLogger(), Errors: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	return app
}

const benchRequest = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"

func benchRequests(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte(benchRequest)
	buf := make([]byte, 4096)
	// One answer, read without allocating: the head, then the 13 bytes of
	// its Content-Length.
	get := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				b.Fatal(err)
			}
			n += m
			if end := bytes.Index(buf[:n], []byte("\r\n\r\n")); end >= 0 && n >= end+4+13 {
				if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) || !bytes.Equal(buf[end+4:end+4+13], []byte("Hello, world!")) {
					b.Fatalf("%q", buf[:n])
				}
				return
			}
		}
	}
	get()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		get()
	}
}
