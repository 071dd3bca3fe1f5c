package gowsgi

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestResponseContentLengthNeverExceeded(t *testing.T) {
	run(t, "cl_over", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		if resp.ContentLength != 5 || body != "01234" {
			t.Errorf("got Content-Length %d and %q, want 5 and \"01234\"", resp.ContentLength, body)
		}
		if !strings.Contains(tg.log.String(), "more than its Content-Length") {
			t.Errorf("not logged:\n%s", tg.log)
		}
		// The connection carries the next request cleanly.
		if resp, body := tg.get(t, "/"); body != "01234" {
			t.Errorf("next request: %s %q", resp.Status, body)
		}
	}, plainModes...)
}

// A response shorter than its Content-Length must not look complete: the
// connection is closed.
func TestResponseContentLengthShort(t *testing.T) {
	run(t, "cl_under", Options{}, func(t *testing.T, tg *target) {
		resp, err := tg.client.Get(tg.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || string(body) != "01234" {
			t.Errorf("got %q and %v, want \"01234\" and an unexpected EOF", body, err)
		}
	}, plainModes...)
}

func TestResponseChunkedWithoutLength(t *testing.T) {
	run(t, "stream", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/?40")
		if len(body) != 40*1024 || resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
			t.Errorf("got %d bytes, Content-Length %d, Transfer-Encoding %v", len(body), resp.ContentLength, resp.TransferEncoding)
		}
		for i := 0; i < 40; i++ {
			if body[i*1024] != byte('A'+i%26) {
				t.Fatalf("chunk %d out of order", i)
			}
		}
	})
}

// HTTP/1.0 has no chunked encoding: the end of the connection ends the body.
func TestResponseHTTP10(t *testing.T) {
	run(t, "stream", Options{}, func(t *testing.T, tg *target) {
		out := raw(t, tg.addr, "GET /?3 HTTP/1.0\r\n\r\n")
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if strings.Contains(strings.ToLower(head), "chunked") || len(body) != 3*1024 {
			t.Errorf("head %q, %d body bytes", head, len(body))
		}
	})
	// HTTP/1.0 with keep-alive and a known length keeps the connection.
	// (The client connection's framing: behind a gateway, nginx's.)
	run(t, "hello", Options{}, func(t *testing.T, tg *target) {
		if !tg.engine {
			return // net/http closes it
		}
		c := dial(t, tg.addr)
		io.WriteString(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n")
		got := readResponses(t, bufio.NewReader(c), 2, "GET")
		if got[0] != "200 OK|Hello, world!" || got[1] != "200 OK|Hello, world!" {
			t.Errorf("got %q", got)
		}
	}, httpModes...)
}

func TestResponseHead(t *testing.T) {
	run(t, "hello", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.do(t, "HEAD", "/", nil)
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("Hello, world!")) {
			t.Errorf("HEAD: %s, Content-Length %d, body %q", resp.Status, resp.ContentLength, body)
		}
		if !tg.netHTTP() {
			// Nothing follows the head on the wire.
			out := raw(t, tg.addr, "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if !strings.HasSuffix(out, "\r\n\r\n") {
				t.Errorf("HEAD answer carries a body: %q", out)
			}
		}
	})
	run(t, "stream", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.do(t, "HEAD", "/?5", nil); resp.StatusCode != 200 || body != "" {
			t.Errorf("HEAD of a stream: %s %q", resp.Status, body)
		}
	})
}

func TestResponseWithoutBody(t *testing.T) {
	run(t, "status", Options{}, func(t *testing.T, tg *target) {
		for _, status := range []string{"204%20No%20Content", "304%20Not%20Modified"} {
			if tg.netHTTP() {
				if resp, body := tg.get(t, "/?"+status); body != "" {
					t.Errorf("%s: %s carries %q", status, resp.Status, body)
				}
				continue
			}
			out := raw(t, tg.addr, "GET /?"+status+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			head, body, _ := strings.Cut(out, "\r\n\r\n")
			if body != "" || strings.Contains(head, "Transfer-Encoding") {
				t.Errorf("%s: %q", status, out)
			}
			if strings.Contains(status, "204") && strings.Contains(head, "Content-Length") {
				t.Errorf("204 with a Content-Length: %q", head)
			}
		}
	}, wsgirefModes...)
	// A 1xx status as the final answer (which PEP 3333 does not foresee)
	// is the application's error: start_response raises, the client gets
	// a 500 and the log the traceback.
	run(t, "status", Options{}, func(t *testing.T, tg *target) {
		resp, _ := tg.get(t, "/?102%20Processing")
		if resp.StatusCode != 500 {
			t.Errorf("1xx: %s, want 500", resp.Status)
		}
		waitFor(t, "the traceback", func() bool { return strings.Contains(tg.log.String(), "a 1xx is an interim response") })
	}, plainModes...)
	// A 204 with the application's Content-Length goes out without it
	// (RFC 9110 8.6).
	run(t, "no_content_length", Options{}, func(t *testing.T, tg *target) {
		if tg.netHTTP() {
			return // net/http drops it itself
		}
		out := raw(t, tg.addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 204") || strings.Contains(strings.ToLower(head), "content-length") || body != "" {
			t.Errorf("204 with the application's Content-Length: %q", out)
		}
	})
	run(t, "status_length", Options{}, func(t *testing.T, tg *target) {
		// 304 keeps the Content-Length the application gave.
		resp, body := tg.get(t, "/")
		if resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != `"x"` {
			t.Errorf("304: %s %v %q", resp.Status, resp.Header, body)
		}
		// (net/http drops it.)
		if !tg.netHTTP() && resp.Header.Get("Content-Length") != "42" {
			t.Errorf("304 lost its Content-Length: %v", resp.Header)
		}
	})
}

func TestResponseManySetCookie(t *testing.T) {
	run(t, "cookies", Options{}, func(t *testing.T, tg *target) {
		resp, _ := tg.get(t, "/")
		want := []string{"a=1; Path=/", "b=2; Path=/", "c=3; Path=/; HttpOnly"}
		if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, want) {
			t.Errorf("Set-Cookie %q, want %q", got, want)
		}
	})
}

func TestResponseLargeBodies(t *testing.T) {
	run(t, "big_list", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		want := bytes.Repeat(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), 16*1024)
		// Behind the validator the list is an iterator: its length is unknown.
		if (!tg.validated && resp.ContentLength != 4<<20) || body != string(want) {
			t.Errorf("4 MiB list: Content-Length %d, %d bytes", resp.ContentLength, len(body))
		}
	})
	run(t, "empty", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.ContentLength != 0 || body != "" {
			t.Errorf("empty: Content-Length %d, %q", resp.ContentLength, body)
		}
	}, plainModes...)
}

// close() is called after a complete response, after an error while
// iterating, and after the client went away.
func TestResponseCloseAlwaysCalled(t *testing.T) {
	run(t, "tracked", Options{}, func(t *testing.T, tg *target) {
		closed := func() []string {
			var got []string
			serve(t, variant{engine: true}, Options{App: "conformance:closed"}).getJSON(t, "/", &got)
			return got
		}
		ok, fail, gone := tg.name+"-ok", tg.name+"-fail", tg.name+"-gone"
		if resp, body := tg.get(t, "/?"+ok+":ok"); resp.StatusCode != 200 || len(body) != 3*65536 {
			t.Errorf("ok: %s, %d bytes", resp.Status, len(body))
		}
		resp, err := tg.client.Get(tg.url + "/?" + fail + ":fail")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /?"+gone+":forever HTTP/1.1\r\nHost: h\r\n\r\n")
		io.ReadFull(c, make([]byte, 100000))
		c.Close()
		waitFor(t, "close() of all three", func() bool {
			got := closed()
			return slices.Contains(got, ok) && slices.Contains(got, fail) && slices.Contains(got, gone)
		})
	})
}

// A client too slow to take a large response blocks only its own Python
// thread, with the GIL released: the other threads keep serving.
func TestResponseSlowClientReleasesGIL(t *testing.T) {
	run(t, "big_stream", Options{Threads: 2}, func(t *testing.T, tg *target) {
		slow, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		io.WriteString(slow, "GET /?256 HTTP/1.1\r\nHost: h\r\n\r\n")
		io.ReadFull(slow, make([]byte, 1000)) // started, then not read further
		other := serve(t, variant{engine: tg.engine, protocol: tg.protocol}, Options{App: "conformance:hello"})
		// The module and interpreter are shared: this Python code runs
		// while the first thread waits in a write.
		for i := 0; i < 20; i++ {
			if resp, body := other.get(t, "/"); body != "Hello, world!" {
				t.Fatalf("while a client stalls: %s %q", resp.Status, body)
			}
		}
		if resp, _ := tg.get(t, "/?1"); resp.StatusCode != 200 {
			t.Errorf("the second thread of the stalled application: %s", resp.Status)
		}
	})
}
