package gowsgi

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/core"
)

const lines = "first line\nsecond\n\nfourth without newline"

func TestInputReadMethods(t *testing.T) {
	cases := []struct {
		query string
		want  []string
		// The validator allows read() only with a size argument.
		validatorForbids bool
	}{
		{"read", []string{lines}, true},
		{"read-1", []string{lines}, false},
		{"readNone", []string{lines}, false},
		{"readn=7", []string{"first l", "ine\nsec", "ond\n\nfo", "urth wi", "thout n", "ewline", ""}, false},
		{"readline", []string{"first line\n", "second\n", "\n", "fourth without newline", ""}, false},
		{"readlinen=4", []string{"firs", "t li", "ne\n", "seco", "nd\n", "\n", "four", "th w", "itho", "ut n", "ewli", "ne", ""}, false},
		{"readlines", []string{"first line\n", "second\n", "\n", "fourth without newline"}, false},
		{"readlineshint=12", []string{"first line\n", "second\n", "|", "\nfourth without newline"}, false},
		{"iter", []string{"first line\n", "second\n", "\n", "fourth without newline"}, false},
		{"past", []string{lines, ""}, false},
	}
	check := func(t *testing.T, tg *target, validated bool) {
		for _, c := range cases {
			if validated && c.validatorForbids {
				continue
			}
			resp, body := tg.do(t, "POST", "/?"+c.query, strings.NewReader(lines))
			var got []string
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
				t.Fatalf("%s: %s %q\n%s", c.query, resp.Status, body, tg.log)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%s: got %q, want %q", c.query, got, c.want)
			}
		}
	}
	run(t, "input_read", Options{}, func(t *testing.T, tg *target) { check(t, tg, tg.validated) })
}

// Bodies beyond what is read ahead stream from the connection.
func TestInputLargeBodies(t *testing.T) {
	run(t, "input_hash", Options{}, func(t *testing.T, tg *target) {
		for _, size := range []int{1, core.DefaultBodyBufferSize, core.DefaultBodyBufferSize + 1, 3 << 20} {
			body := pattern(size)
			sum := sha256.Sum256(body)
			var got struct {
				Length        int
				SHA256        string
				ContentLength string `json:"content_length"`
			}
			resp, text := tg.do(t, "POST", "/", strings.NewReader(string(body)))
			if resp.StatusCode != 200 || json.Unmarshal([]byte(text), &got) != nil {
				t.Fatalf("%d bytes: %s %q", size, resp.Status, text)
			}
			if got.Length != size || got.SHA256 != hex.EncodeToString(sum[:]) || got.ContentLength != fmt.Sprint(size) {
				t.Errorf("%d bytes: the application read %+v", size, got)
			}
		}
	})
}

// Chunked request bodies reach the application whole, with CONTENT_LENGTH:
// in memory when small, through a temporary file when large.
func TestInputChunked(t *testing.T) {
	run(t, "input_hash", Options{}, func(t *testing.T, tg *target) {
		for _, size := range []int{0, 10, core.DefaultBodyBufferSize + 5, (1 << 20) + 12345} {
			body := pattern(size)
			sum := sha256.Sum256(body)
			req, _ := http.NewRequest("POST", tg.url+"/", io.MultiReader(strings.NewReader(string(body))))
			req.ContentLength = -1 // unknown: the client sends it chunked
			resp, err := tg.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got struct {
				Length        int
				SHA256        string
				ContentLength string `json:"content_length"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(text, &got) != nil {
				t.Fatalf("%d bytes: %s %q", size, resp.Status, text)
			}
			if got.Length != size || got.SHA256 != hex.EncodeToString(sum[:]) || got.ContentLength != fmt.Sprint(size) {
				t.Errorf("%d chunked bytes: the application read %+v", size, got)
			}
		}
	})
}

// wsgi.input ends where the body ends, even when the application asks for
// more: the next pipelined request stays intact.
//
// HTTP only: pipelining is the client connection's, which behind a gateway
// is nginx's.
func TestInputNeverPastBody(t *testing.T) {
	run(t, "input_read", Options{}, func(t *testing.T, tg *target) {
		if !tg.engine {
			return // net/http does not pipeline; the engine does
		}
		c := dial(t, tg.addr)
		io.WriteString(c, "POST /?past HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"+
			"POST /?past HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
			"POST /?past HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		got := readResponses(t, bufio.NewReader(c), 3, "POST")
		want := []string{`200 OK|["hello", ""]`, `200 OK|["abc", ""]`, `200 OK|["ok", ""]`}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %q\nwant %q", got, want)
		}
	}, httpModes...)
}

// "100 Continue" goes out when the application first reads the body, and
// not at all when it answers without reading.
func TestInputExpectContinue(t *testing.T) {
	reading := serve(t, variant{engine: true}, Options{App: "conformance:input_hash"})
	c := dial(t, reading.addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("before sending the body: %q %v", line, err)
	}
	br.ReadString('\n') // the empty line ending the interim response
	io.WriteString(c, "hello")
	got := readResponses(t, br, 1, "POST")
	if !strings.Contains(got[0], `"length": 5`) {
		t.Errorf("after 100 Continue: %q", got)
	}

	ignoring := serve(t, variant{engine: true}, Options{App: "conformance:no_read"})
	out := raw(t, ignoring.addr, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if strings.Contains(out, "100 Continue") || !strings.Contains(out, "200 OK") || !strings.HasSuffix(out, "ignored") {
		t.Errorf("an application that does not read got: %q", out)
	}
}

// A client that goes away in the middle of its body makes read() raise in
// the application, which gets a 500 the client no longer sees; the server
// stays up. (HTTP only: nginx reads the whole body before it passes the
// request on, so such a client never reaches a gateway; a front server
// giving up on a request is TestFastCGIProtocol's abort.)
func TestInputClientGone(t *testing.T) {
	run(t, "input_hash", Options{}, func(t *testing.T, tg *target) {
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
		c.Write(pattern(200000))
		c.Close()
		waitFor(t, "the read error in the log", func() bool {
			return strings.Contains(tg.log.String(), "reading the request body failed")
		})
		if resp, _ := tg.do(t, "POST", "/", strings.NewReader("still up")); resp.StatusCode != 200 {
			t.Errorf("after a client left: %s", resp.Status)
		}
	}, httpModes...)
}

func TestInputLimit(t *testing.T) {
	run(t, "input_hash", Options{LimitRequestBody: 100}, func(t *testing.T, tg *target) {
		if resp, _ := tg.do(t, "POST", "/", strings.NewReader(strings.Repeat("x", 101))); resp.StatusCode != 413 {
			t.Errorf("101 bytes over a limit of 100: %s", resp.Status)
		}
		req, _ := http.NewRequest("POST", tg.url+"/", io.MultiReader(strings.NewReader(strings.Repeat("x", 101))))
		req.ContentLength = -1
		resp, err := tg.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("101 chunked bytes over a limit of 100: %s", resp.Status)
		}
		if resp, _ := tg.do(t, "POST", "/", strings.NewReader(strings.Repeat("x", 100))); resp.StatusCode != 200 {
			t.Errorf("100 bytes within the limit: %s", resp.Status)
		}
	})
}

// pattern is n bytes that are not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
