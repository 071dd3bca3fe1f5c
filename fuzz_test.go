package gowsgi

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var fuzzEngine struct {
	once sync.Once
	addr string
}

// FuzzEngine sends arbitrary bytes to the HTTP/1.1 engine, which reads
// PROXY headers too: whatever arrives, the server answers or closes, and
// keeps serving.
func FuzzEngine(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /?readline HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\na\nb\n",
		"POST /?iter HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n0\r\nT: v\r\n\r\n",
		"POST /?read HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
		"GET /?readn=1 HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://a:1/%41?b HTTP/1.1\r\nHost: c\r\nCookie: a\r\nCookie: b\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		proxyV1 + "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		proxyV2 + "POST /?read HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		proxyLocal + "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		fuzzEngine.once.Do(func() {
			app, err := New(Options{App: "conformance:input_read", Threads: 2, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &Server{App: app, HeaderTimeout: 2 * time.Second, IOTimeout: 2 * time.Second, KeepAlive: 200 * time.Millisecond,
				ProxyProtocol: "auto"}
			go srv.Serve(ln)
			fuzzEngine.addr = ln.Addr().String()
		})
		c, err := net.Dial("tcp", fuzzEngine.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, input)
		c.(*net.TCPConn).CloseWrite()
		out, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("no answer within 10 s to %q: %v", input, err)
		}
		if len(out) > 0 && !strings.HasPrefix(string(out), "HTTP/1.1 ") {
			t.Fatalf("answer to %q is not HTTP: %q", input, out)
		}
		// The server still serves: a real request gets its answer (a
		// listening socket alone would accept with the engine stuck).
		c2, err := net.Dial("tcp", fuzzEngine.addr)
		if err != nil {
			t.Fatalf("after %q: %v", input, err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c2, "POST /?read HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nalive")
		answer, err := io.ReadAll(c2)
		if err != nil || !strings.HasPrefix(string(answer), "HTTP/1.1 200 ") || !strings.HasSuffix(strings.TrimSpace(string(answer)), `["alive"]`) {
			t.Fatalf("after %q the server does not serve: %q, %v", input, answer, err)
		}
	})
}
