package h1

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// gunicorn's default limits, which the server uses unless told otherwise.
var gunicornLimits = Limits{RequestLine: 4094, Fields: 100, FieldSize: 8190}

// parsed is a Request with strings, to compare whole results at once.
// A nil slice shows as "<nil>" so that it differs from an empty one.
type parsed struct {
	Method, Target, Path, Query, Proto string
	Minor                              int
	Host                               string
	Fields                             []string // "Name: Value"
	ContentLength                      int64
	Chunked, Close, ExpectContinue     bool
}

func str(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func summary(r *Request) parsed {
	p := parsed{
		Method: str(r.Method), Target: str(r.Target), Path: str(r.Path),
		Query: str(r.Query), Proto: str(r.Proto), Minor: r.Minor, Host: str(r.Host),
		ContentLength: r.ContentLength, Chunked: r.Chunked, Close: r.Close,
		ExpectContinue: r.ExpectContinue,
	}
	for _, f := range r.Fields {
		p.Fields = append(p.Fields, string(f.Name)+": "+string(f.Value))
	}
	return p
}

func equalParsed(a, b parsed) bool {
	return slices.Equal(a.Fields, b.Fields) && reflect.DeepEqual(withoutFields(a), withoutFields(b))
}

func withoutFields(p parsed) parsed {
	p.Fields = nil
	return p
}

// get is a plain HTTP/1.1 GET of / to example.com, the starting point of
// most expectations below.
func get(f ...string) parsed {
	return parsed{
		Method: "GET", Target: "/", Path: "/", Query: "<nil>", Proto: "HTTP/1.1",
		Minor: 1, Host: "example.com", Fields: f, ContentLength: -1,
	}
}

func TestParseValid(t *testing.T) {
	const host = "Host: example.com\r\n"
	tests := []struct {
		name string
		in   string
		rest string // what follows the head: body or next request
		want parsed
	}{
		{
			name: "minimal",
			in:   "GET / HTTP/1.1\r\n" + host + "\r\n",
			want: get("Host: example.com"),
		},
		{
			name: "origin-form with query",
			in:   "GET /a/b%20c?x=1&y=%2F HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Path, p.Query = "/a/b%20c?x=1&y=%2F", "/a/b%20c", "x=1&y=%2F"
				return p
			}(),
		},
		{
			name: "empty query",
			in:   "GET /p? HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Path, p.Query = "/p?", "/p", ""
				return p
			}(),
		},
		{
			name: "second question mark belongs to the query",
			in:   "GET /p?a?b HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Path, p.Query = "/p?a?b", "/p", "a?b"
				return p
			}(),
		},
		{
			name: "absolute-form overrides Host",
			in:   "GET http://origin.test:8080/p/q?a=1 HTTP/1.1\r\nHost: other.test\r\n\r\n",
			want: func() parsed {
				p := get("Host: other.test")
				p.Target, p.Path, p.Query = "http://origin.test:8080/p/q?a=1", "/p/q", "a=1"
				p.Host = "origin.test:8080"
				return p
			}(),
		},
		{
			name: "absolute-form without path",
			in:   "GET http://origin.test HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Host = "http://origin.test", "origin.test"
				return p
			}(),
		},
		{
			name: "absolute-form with query but without path",
			in:   "GET http://origin.test?a=b HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Query, p.Host = "http://origin.test?a=b", "a=b", "origin.test"
				return p
			}(),
		},
		{
			name: "absolute-form https, scheme in upper case",
			in:   "GET HTTPS://[::1]:8443/x HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Path, p.Host = "HTTPS://[::1]:8443/x", "/x", "[::1]:8443"
				return p
			}(),
		},
		{
			name: "OPTIONS *",
			in:   "OPTIONS * HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Method, p.Target, p.Path = "OPTIONS", "*", "*"
				return p
			}(),
		},
		{
			name: "HTTP/1.0 without Host closes",
			in:   "GET /x HTTP/1.0\r\n\r\n",
			want: parsed{
				Method: "GET", Target: "/x", Path: "/x", Query: "<nil>", Proto: "HTTP/1.0",
				Host: "<nil>", ContentLength: -1, Close: true,
			},
		},
		{
			name: "leading empty lines",
			in:   "\r\n\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n",
			want: get("Host: example.com"),
		},
		{
			name: "OWS around values",
			in:   "GET / HTTP/1.1\r\nHost: \t example.com \t\r\nX-Empty:\r\nX-Blank: \t \r\nX-Inner:a  b\r\n\r\n",
			want: get("Host: example.com", "X-Empty: ", "X-Blank: ", "X-Inner: a  b"),
		},
		{
			name: "obs-text in values",
			in:   "GET / HTTP/1.1\r\n" + host + "X-Name: caf\xc3\xa9 \x80\xff\r\n\r\n",
			want: get("Host: example.com", "X-Name: caf\xc3\xa9 \x80\xff"),
		},
		{
			name: "value with all visible characters",
			in:   "GET / HTTP/1.1\r\n" + host + "X-V: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n",
			want: get("Host: example.com", "X-V: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
		},
		{
			name: "repeated fields keep their order",
			in:   "GET / HTTP/1.1\r\nAccept: a\r\n" + host + "Cookie: c=1\r\nACCEPT: b\r\nCookie: d=2\r\n\r\n",
			want: get("Accept: a", "Host: example.com", "Cookie: c=1", "ACCEPT: b", "Cookie: d=2"),
		},
		{
			name: "field names in any case",
			in:   "GET / HTTP/1.1\r\nHOST: example.com\r\ncontent-LENGTH: 3\r\n\r\n",
			want: func() parsed {
				p := get("HOST: example.com", "content-LENGTH: 3")
				p.ContentLength = 3
				return p
			}(),
		},
		{
			name: "token characters in names and methods",
			in:   "M-SEARCH! / HTTP/1.1\r\n" + host + "X-a.b_c~d|e^f`g#h$i%j&k'l*m+n: v\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "X-a.b_c~d|e^f`g#h$i%j&k'l*m+n: v")
				p.Method = "M-SEARCH!"
				return p
			}(),
		},
		{
			name: "empty Host is allowed",
			in:   "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			want: func() parsed {
				p := get("Host: ")
				p.Host = ""
				return p
			}(),
		},
		{
			name: "HTTP/1.1 Connection: close",
			in:   "GET / HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Connection: close")
				p.Close = true
				return p
			}(),
		},
		{
			name: "HTTP/1.1 close among other tokens",
			in:   "GET / HTTP/1.1\r\n" + host + "Connection: upgrade ,\tCLOSE\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Connection: upgrade ,\tCLOSE")
				p.Close = true
				return p
			}(),
		},
		{
			name: "HTTP/1.1 keep-alive",
			in:   "GET / HTTP/1.1\r\n" + host + "Connection: keep-alive\r\n\r\n",
			want: get("Host: example.com", "Connection: keep-alive"),
		},
		{
			name: "HTTP/1.1 close is a whole token",
			in:   "GET / HTTP/1.1\r\n" + host + "Connection: closed, x-close\r\n\r\n",
			want: get("Host: example.com", "Connection: closed, x-close"),
		},
		{
			name: "HTTP/1.0 keep-alive",
			in:   "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want: parsed{
				Method: "GET", Target: "/", Path: "/", Query: "<nil>", Proto: "HTTP/1.0",
				Host: "<nil>", Fields: []string{"Connection: Keep-Alive"}, ContentLength: -1,
			},
		},
		{
			name: "HTTP/1.0 keep-alive in a second Connection field",
			in:   "GET / HTTP/1.0\r\nConnection: upgrade\r\nConnection: foo, keep-alive\r\n\r\n",
			want: parsed{
				Method: "GET", Target: "/", Path: "/", Query: "<nil>", Proto: "HTTP/1.0",
				Host: "<nil>", Fields: []string{"Connection: upgrade", "Connection: foo, keep-alive"},
				ContentLength: -1,
			},
		},
		{
			name: "HTTP/1.0 close wins over keep-alive",
			in:   "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
			want: parsed{
				Method: "GET", Target: "/", Path: "/", Query: "<nil>", Proto: "HTTP/1.0",
				Host: "<nil>", Fields: []string{"Connection: keep-alive, close"},
				ContentLength: -1, Close: true,
			},
		},
		{
			name: "HTTP/1.0 other Connection tokens close",
			in:   "GET / HTTP/1.0\r\nConnection: upgrade\r\n\r\n",
			want: parsed{
				Method: "GET", Target: "/", Path: "/", Query: "<nil>", Proto: "HTTP/1.0",
				Host: "<nil>", Fields: []string{"Connection: upgrade"}, ContentLength: -1, Close: true,
			},
		},
		{
			name: "Expect: 100-continue in HTTP/1.1",
			in:   "POST / HTTP/1.1\r\n" + host + "Expect: 100-Continue\r\nContent-Length: 5\r\n\r\n",
			rest: "hello",
			want: func() parsed {
				p := get("Host: example.com", "Expect: 100-Continue", "Content-Length: 5")
				p.Method, p.ContentLength, p.ExpectContinue = "POST", 5, true
				return p
			}(),
		},
		{
			name: "Expect: 100-continue ignored in HTTP/1.0",
			in:   "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
			want: parsed{
				Method: "POST", Target: "/", Path: "/", Query: "<nil>", Proto: "HTTP/1.0",
				Host: "<nil>", Fields: []string{"Expect: 100-continue", "Content-Length: 0"},
				ContentLength: 0, Close: true,
			},
		},
		{
			name: "Content-Length",
			in:   "POST / HTTP/1.1\r\n" + host + "Content-Length: 42\r\n\r\n",
			rest: strings.Repeat("x", 42),
			want: func() parsed {
				p := get("Host: example.com", "Content-Length: 42")
				p.Method, p.ContentLength = "POST", 42
				return p
			}(),
		},
		{
			name: "Content-Length zero, leading zeros, OWS",
			in:   "POST / HTTP/1.1\r\n" + host + "Content-Length:  007 \r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Content-Length: 007")
				p.Method, p.ContentLength = "POST", 7
				return p
			}(),
		},
		{
			name: "Content-Length of 18 digits",
			in:   "POST / HTTP/1.1\r\n" + host + "Content-Length: 999999999999999999\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Content-Length: 999999999999999999")
				p.Method, p.ContentLength = "POST", 999999999999999999
				return p
			}(),
		},
		{
			name: "two equal Content-Length fields",
			in:   "POST / HTTP/1.1\r\n" + host + "Content-Length: 0\r\ncontent-length: 000\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Content-Length: 0", "content-length: 000")
				p.Method, p.ContentLength = "POST", 0
				return p
			}(),
		},
		{
			name: "chunked",
			in:   "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n",
			rest: "0\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Transfer-Encoding: chunked")
				p.Method, p.Chunked = "POST", true
				return p
			}(),
		},
		{
			name: "Chunked in another case",
			in:   "POST / HTTP/1.1\r\n" + host + "transfer-encoding: Chunked\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "transfer-encoding: Chunked")
				p.Method, p.Chunked = "POST", true
				return p
			}(),
		},
		{
			name: "chunked split over two fields",
			in:   "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: ,\r\nTransfer-Encoding: , chunked\r\n\r\n",
			want: func() parsed {
				p := get("Host: example.com", "Transfer-Encoding: ,", "Transfer-Encoding: , chunked")
				p.Method, p.Chunked = "POST", true
				return p
			}(),
		},
		{
			name: "pipelined request follows",
			in:   "GET /1 HTTP/1.1\r\n" + host + "\r\n",
			rest: "GET /2 HTTP/1.1\r\n" + host + "\r\n",
			want: func() parsed {
				p := get("Host: example.com")
				p.Target, p.Path = "/1", "/1"
				return p
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, lim := range []Limits{{}, gunicornLimits} {
				var req Request
				n, err := Parse([]byte(tt.in+tt.rest), &req, lim)
				if err != nil {
					t.Fatalf("Parse(%q, %+v): %v", tt.in, lim, err)
				}
				if n != len(tt.in) {
					t.Errorf("Parse(%q, %+v) = %d, want %d", tt.in, lim, n, len(tt.in))
				}
				if got := summary(&req); !equalParsed(got, tt.want) {
					t.Errorf("Parse(%q, %+v):\n got %+v\nwant %+v", tt.in, lim, got, tt.want)
				}
			}
		})
	}
}

func TestParseRefused(t *testing.T) {
	const (
		rl   = "GET / HTTP/1.1\r\n"
		host = "Host: example.com\r\n"
		post = "POST / HTTP/1.1\r\n" + host
	)
	tests := []struct {
		name   string
		in     string
		lim    Limits
		status int
	}{
		// Line endings.
		{"bare LF after request line", "GET / HTTP/1.1\n" + host + "\r\n", Limits{}, 400},
		{"bare LF after field", rl + "Host: example.com\n\r\n", Limits{}, 400},
		{"bare LF as empty line", rl + host + "\n", Limits{}, 400},
		{"bare LF before request line", "\n" + rl + host + "\r\n", Limits{}, 400},
		{"bare LF after leading CRLF", "\r\n\n" + rl + host + "\r\n", Limits{}, 400},
		{"bare LF only", "GET / HTTP/1.1\nHost: example.com\n\n", Limits{}, 400},
		{"CR inside request line", "GET /\r HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"CR inside value", rl + "X: a\rb\r\n" + host + "\r\n", Limits{}, 400},
		{"CR CR LF", rl + host + "X: a\r\r\n\r\n", Limits{}, 400},
		{"lone CR before request line", "\r" + rl + host + "\r\n", Limits{}, 400},
		{"CR CR LF before request line", "\r\r\n" + rl + host + "\r\n", Limits{}, 400},
		{"obs-fold with space", rl + host + "X-A: a\r\n b\r\n\r\n", Limits{}, 400},
		{"obs-fold with tab", rl + host + "X-A: a\r\n\tb\r\n\r\n", Limits{}, 400},
		{"first field folded", rl + " " + host + "\r\n", Limits{}, 400},

		// Field names and values.
		{"space before colon", rl + "Host : example.com\r\n\r\n", Limits{}, 400},
		{"tab before colon", rl + host + "X-A\t: b\r\n\r\n", Limits{}, 400},
		{"empty name", rl + host + ": b\r\n\r\n", Limits{}, 400},
		{"no colon", rl + host + "X-A b\r\n\r\n", Limits{}, 400},
		{"separator in name", rl + host + "X(A): b\r\n\r\n", Limits{}, 400},
		{"slash in name", rl + host + "X/A: b\r\n\r\n", Limits{}, 400},
		{"obs-text in name", rl + host + "X-\xe9: b\r\n\r\n", Limits{}, 400},
		{"NUL in value", rl + host + "X-A: a\x00b\r\n\r\n", Limits{}, 400},
		{"SOH in value", rl + host + "X-A: \x01\r\n\r\n", Limits{}, 400},
		{"ESC in value", rl + host + "X-A: a\x1b[0m\r\n\r\n", Limits{}, 400},
		{"DEL in value", rl + host + "X-A: a\x7f\r\n\r\n", Limits{}, 400},
		{"vertical tab in value", rl + host + "X-A: a\vb\r\n\r\n", Limits{}, 400},

		// Request line.
		{"invalid method character", "G(T / HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"obs-text in method", "G\xc9T / HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"empty method", " / HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"method only", "GET\r\n" + host + "\r\n", Limits{}, 400},
		{"no version", "GET /\r\n" + host + "\r\n", Limits{}, 400},
		{"no space before version", "GET /HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"two spaces after method", "GET  / HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"two spaces before version", "GET /  HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n", Limits{}, 400},
		{"tabs for spaces", "GET\t/\tHTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"space in target", "GET /a b HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"tab in target", "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"DEL in target", "GET /a\x7f HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"NUL in target", "GET /a\x00 HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},

		// Versions.
		{"lower-case version", "GET / http/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"version without minor", "GET / HTTP/1\r\n" + host + "\r\n", Limits{}, 400},
		{"version with letters", "GET / HTTP/1.x\r\n" + host + "\r\n", Limits{}, 400},
		{"version with two-digit minor", "GET / HTTP/1.10\r\n" + host + "\r\n", Limits{}, 400},
		{"version with comma", "GET / HTTP/1,1\r\n" + host + "\r\n", Limits{}, 400},
		{"version with space", "GET / HTTP 1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"other protocol", "GET / HTCPCP/1.0\r\n" + host + "\r\n", Limits{}, 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", Limits{}, 505},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n" + host + "\r\n", Limits{}, 505},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", Limits{}, 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\n" + host + "\r\n", Limits{}, 505},

		// Host.
		{"HTTP/1.1 without Host", rl + "X-A: b\r\n\r\n", Limits{}, 400},
		{"two Host fields", rl + host + "host: example.com\r\n\r\n", Limits{}, 400},
		{"two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\n" + host + host + "\r\n", Limits{}, 400},
		{"two Host fields, absolute-form", "GET http://a.test/ HTTP/1.1\r\n" + host + host + "\r\n", Limits{}, 400},
		{"absolute-form without Host field", "GET http://a.test/ HTTP/1.1\r\n\r\n", Limits{}, 400},
		{"space in Host", rl + "Host: exa mple.com\r\n\r\n", Limits{}, 400},
		{"slash in Host", rl + "Host: example.com/x\r\n\r\n", Limits{}, 400},
		{"userinfo in Host", rl + "Host: user@example.com\r\n\r\n", Limits{}, 400},
		{"quote in Host", rl + "Host: \"example.com\"\r\n\r\n", Limits{}, 400},
		{"obs-text in Host", rl + "Host: exampl\xe9.com\r\n\r\n", Limits{}, 400},
		{"invalid Host with absolute-form", "GET http://a.test/ HTTP/1.1\r\nHost: a b\r\n\r\n", Limits{}, 400},

		// Content-Length.
		{"Content-Length with plus", post + "Content-Length: +5\r\n\r\n", Limits{}, 400},
		{"Content-Length with minus", post + "Content-Length: -5\r\n\r\n", Limits{}, 400},
		{"Content-Length with inner space", post + "Content-Length: 1 2\r\n\r\n", Limits{}, 400},
		{"Content-Length in hex", post + "Content-Length: 0x10\r\n\r\n", Limits{}, 400},
		{"Content-Length with hex digit", post + "Content-Length: 1a\r\n\r\n", Limits{}, 400},
		{"Content-Length list", post + "Content-Length: 5,5\r\n\r\n", Limits{}, 400},
		{"Content-Length list with OWS", post + "Content-Length: 5, 5\r\n\r\n", Limits{}, 400},
		{"Content-Length empty", post + "Content-Length:\r\n\r\n", Limits{}, 400},
		{"Content-Length with decimal point", post + "Content-Length: 5.0\r\n\r\n", Limits{}, 400},
		{"Content-Length of 19 digits", post + "Content-Length: 1000000000000000000\r\n\r\n", Limits{}, 400},
		{"Content-Length beyond int64", post + "Content-Length: 99999999999999999999\r\n\r\n", Limits{}, 400},
		{"two different Content-Lengths", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", Limits{}, 400},
		{"invalid second Content-Length", post + "Content-Length: 5\r\nContent-Length: x\r\n\r\n", Limits{}, 400},

		// Transfer-Encoding.
		{"Content-Length then Transfer-Encoding", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, 400},
		{"Transfer-Encoding then Content-Length", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Limits{}, 400},
		{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, 400},
		{"gzip", post + "Transfer-Encoding: gzip\r\n\r\n", Limits{}, 501},
		{"gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", Limits{}, 501},
		{"chunked, gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", Limits{}, 501},
		{"gzip and chunked in two fields", post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, 501},
		{"identity", post + "Transfer-Encoding: identity\r\n\r\n", Limits{}, 501},
		{"chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n", Limits{}, 400},
		{"chunked in two fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, 400},
		{"chunked with parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n", Limits{}, 400},
		{"coding with space", post + "Transfer-Encoding: chun ked\r\n\r\n", Limits{}, 400},
		{"empty Transfer-Encoding", post + "Transfer-Encoding: \r\n\r\n", Limits{}, 400},
		{"only commas", post + "Transfer-Encoding: , ,\r\n\r\n", Limits{}, 400},

		// Expect.
		{"Expect other than 100-continue", post + "Expect: 102-processing\r\n\r\n", Limits{}, 417},
		{"Expect list", post + "Expect: 100-continue, foo\r\n\r\n", Limits{}, 417},
		{"Expect in HTTP/1.0", "POST / HTTP/1.0\r\nExpect: foo\r\n\r\n", Limits{}, 417},
		{"empty Expect", post + "Expect:\r\n\r\n", Limits{}, 417},

		// Limits.
		{"request line too long", "GET /" + strings.Repeat("a", 30) + " HTTP/1.1\r\n" + host + "\r\n", Limits{RequestLine: 30}, 414},
		{"request line one byte too long", "GET /aaaaaa HTTP/1.1\r\n" + host + "\r\n", Limits{RequestLine: len("GET /aaaaaa HTTP/1.1") - 1}, 414},
		{"unfinished request line too long", "GET /" + strings.Repeat("a", 40), Limits{RequestLine: 30}, 414},
		{"unfinished request line after empty lines", "\r\n\r\nGET /" + strings.Repeat("a", 40), Limits{RequestLine: 30}, 414},
		{"too many fields", rl + host + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", Limits{Fields: 3}, 431},
		{"field line too long", rl + host + "X-A: " + strings.Repeat("v", 20) + "\r\n\r\n", Limits{FieldSize: 24}, 431},
		{"field line too long with OWS", rl + host + "X-A: v" + strings.Repeat(" ", 20) + "\r\n\r\n", Limits{FieldSize: 24}, 431},

		// Request-target forms.
		{"* for GET", "GET * HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"*x for OPTIONS", "OPTIONS *x HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"authority-form", "CONNECT example.com:443 HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"relative path", "GET a/b HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"query only", "GET ?a HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"other scheme", "GET ftp://a.test/ HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"scheme with one slash", "GET http:/a.test/ HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"empty authority", "GET http:///p HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"empty authority before query", "GET http://?q HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"userinfo in authority", "GET http://user@a.test/ HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"user and password in authority", "GET http://u:p@a.test/ HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
		{"quote in authority", "GET http://a\"b/ HTTP/1.1\r\n" + host + "\r\n", Limits{}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req Request
			n, err := Parse([]byte(tt.in), &req, tt.lim)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %d, %v; want an *Error with status %d", tt.in, n, err, tt.status)
			}
			if e.Status != tt.status {
				t.Errorf("Parse(%q): status %d (%s), want %d", tt.in, e.Status, e.Reason, tt.status)
			}
			if n != 0 {
				t.Errorf("Parse(%q) returned length %d with an error", tt.in, n)
			}
			if e.Reason == "" || e.Error() != e.Reason {
				t.Errorf("Parse(%q): Error() = %q, Reason = %q", tt.in, e.Error(), e.Reason)
			}
		})
	}
}

// The limits are inclusive: a request exactly at each of them is served.
func TestParseLimitsInclusive(t *testing.T) {
	const line = "GET /abc HTTP/1.1"
	const field = "X-A: " + "0123456789"
	in := line + "\r\nHost: a\r\n" + field + "\r\n\r\n"
	lim := Limits{RequestLine: len(line), Fields: 2, FieldSize: len(field)}
	var req Request
	n, err := Parse([]byte(in), &req, lim)
	if err != nil || n != len(in) {
		t.Fatalf("Parse(%q, %+v) = %d, %v; want %d, nil", in, lim, n, err, len(in))
	}
	if len(req.Fields) != 2 {
		t.Errorf("got %d fields, want 2", len(req.Fields))
	}
}

func TestParseUnlimited(t *testing.T) {
	long := strings.Repeat("a", 100_000)
	var b strings.Builder
	b.WriteString("GET /" + long + " HTTP/1.1\r\nHost: a\r\n")
	for i := 0; i < 1000; i++ {
		b.WriteString("X-A: " + long[:100] + "\r\n")
	}
	b.WriteString("X-Long: " + long + "\r\n\r\n")
	in := b.String()
	var req Request
	n, err := Parse([]byte(in), &req, Limits{})
	if err != nil || n != len(in) {
		t.Fatalf("Parse of a %d-byte head without limits = %d, %v", len(in), n, err)
	}
	if len(req.Fields) != 1002 || len(req.Path) != 1+len(long) {
		t.Errorf("got %d fields and a path of %d bytes", len(req.Fields), len(req.Path))
	}
}

// Every proper prefix of a head is incomplete, not refused: the rest may
// still arrive.
func TestParseIncomplete(t *testing.T) {
	heads := []string{
		"GET /p?q HTTP/1.1\r\nHost: example.com\r\nX-A: b\r\n\r\n",
		"\r\n\r\nPOST http://a.test/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	}
	for _, head := range heads {
		for _, lim := range []Limits{{}, gunicornLimits} {
			for i := 0; i < len(head); i++ {
				var req Request
				n, err := Parse([]byte(head[:i]), &req, lim)
				if err != ErrIncomplete {
					t.Errorf("Parse(%q) = %d, %v; want ErrIncomplete", head[:i], n, err)
				}
			}
		}
	}
	// An unfinished request line within its limit is not refused yet.
	var req Request
	in := "GET /" + strings.Repeat("a", 25)
	if _, err := Parse([]byte(in), &req, Limits{RequestLine: 30}); err != ErrIncomplete {
		t.Errorf("Parse(%q) with RequestLine 30: %v, want ErrIncomplete", in, err)
	}
}

// Parse starts afresh with a used Request and keeps its Fields array.
func TestParseReusesRequest(t *testing.T) {
	req := Request{Fields: make([]Field, 0, 8)}
	first := "POST http://a.test HTTP/1.0\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 3\r\nX: 1\r\n\r\n"
	if _, err := Parse([]byte(first), &req, Limits{}); err != nil {
		t.Fatal(err)
	}
	array := &req.Fields[:1][0]
	second := "GET / HTTP/1.1\r\nHost: b.test\r\n\r\n"
	if _, err := Parse([]byte(second), &req, Limits{}); err != nil {
		t.Fatal(err)
	}
	want := get("Host: b.test")
	want.Host = "b.test"
	if got := summary(&req); !equalParsed(got, want) {
		t.Errorf("second request:\n got %+v\nwant %+v", got, want)
	}
	if &req.Fields[0] != array {
		t.Error("Parse replaced the Fields array")
	}
	chunked := "POST / HTTP/1.1\r\nHost: b.test\r\nTransfer-Encoding: chunked\r\n\r\n"
	if _, err := Parse([]byte(chunked), &req, Limits{}); err != nil || !req.Chunked {
		t.Fatal(err, req.Chunked)
	}
	if _, err := Parse([]byte(second), &req, Limits{}); err != nil || req.Chunked || req.ContentLength != -1 {
		t.Errorf("after a chunked request: %v, Chunked %v, ContentLength %d", err, req.Chunked, req.ContentLength)
	}
}

func TestParseAllocations(t *testing.T) {
	heads := map[string]string{
		"browser": "GET /static/app.js?v=3 HTTP/1.1\r\n" +
			"Host: www.example.com\r\n" +
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
			"Accept: */*\r\n" +
			"Accept-Language: en-US,en;q=0.5\r\n" +
			"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
			"Referer: https://www.example.com/\r\n" +
			"Connection: keep-alive\r\n" +
			"Cookie: session=0123456789abcdef; theme=dark\r\n" +
			"Sec-Fetch-Dest: script\r\n" +
			"If-None-Match: \"abc123\"\r\n" +
			"\r\n",
		"absolute-form": "GET http://www.example.com HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"chunked in two fields": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n" +
			"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
		"HTTP/1.0": "GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
	}
	for name, head := range heads {
		buf := []byte(head)
		req := Request{Fields: make([]Field, 0, 16)}
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			_, err = Parse(buf, &req, gunicornLimits)
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: Parse allocates %v times, want 0", name, allocs)
		}
	}
}

func TestHeadLimit(t *testing.T) {
	tests := []struct {
		lim  Limits
		want int
	}{
		{gunicornLimits, 4094 + 2 + 100*(8190+2) + 2},
		{Limits{RequestLine: 10, Fields: 2, FieldSize: 5}, 10 + 2 + 2*7 + 2},
		{Limits{}, MaxHead},
		{Limits{RequestLine: 0, Fields: 100, FieldSize: 8190}, MaxHead},
		{Limits{RequestLine: 4094, Fields: 0, FieldSize: 8190}, MaxHead},
		{Limits{RequestLine: 4094, Fields: 100, FieldSize: 0}, MaxHead},
		{Limits{RequestLine: -1, Fields: 100, FieldSize: 8190}, MaxHead},
		{Limits{RequestLine: 4094, Fields: 1000, FieldSize: 8190}, MaxHead},
		// Products and sums that overflow int must not wrap to a small limit.
		{Limits{RequestLine: 4094, Fields: math.MaxInt, FieldSize: math.MaxInt}, MaxHead},
		{Limits{RequestLine: 4094, Fields: math.MaxInt / 2, FieldSize: 8190}, MaxHead},
		{Limits{RequestLine: 4094, Fields: 3, FieldSize: math.MaxInt - 1}, MaxHead},
		{Limits{RequestLine: math.MaxInt, Fields: 100, FieldSize: 8190}, MaxHead},
	}
	for _, tt := range tests {
		if got := tt.lim.HeadLimit(); got != tt.want {
			t.Errorf("%+v.HeadLimit() = %d, want %d", tt.lim, got, tt.want)
		}
	}
}

// A huge RequestLine must not overflow into refusing every unfinished line.
func TestParseHugeRequestLineLimit(t *testing.T) {
	var req Request
	if _, err := Parse([]byte("GET / HT"), &req, Limits{RequestLine: math.MaxInt}); err != ErrIncomplete {
		t.Errorf("got %v, want ErrIncomplete", err)
	}
}

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int // -1: incomplete
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n", 27},
		{"GET / HTTP/1.0\r\n\r\n", 18},
		{"GET / HTTP/1.1\nHost: a\n\nbody", 24},
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", 26},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", 26},
		{"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 31},
		{"\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 29},
		{"\r\n\nGET / HTTP/1.0\r\n\r\n", 21},
		{"", -1},
		{"GET", -1},
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", -1},
		{"\r\n", -1},
		{"\r\n\r\n\r\n\r\n", -1},
		{"\n\n\n", -1},
		{"\r\n\n\r\n\r", -1},
		{"\r\n\r\nGET / HTTP/1.1\r\n", -1},
	}
	for _, tt := range tests {
		end, next := HeadEnd([]byte(tt.in), 0)
		if end != tt.want {
			t.Errorf("HeadEnd(%q) = %d, want %d", tt.in, end, tt.want)
		}
		if end >= 0 && next != end {
			t.Errorf("HeadEnd(%q): next %d, want %d", tt.in, next, end)
		}
		if end < 0 && (next < 0 || next > len(tt.in) || next > 0 && tt.in[next-1] != '\n') {
			t.Errorf("HeadEnd(%q): next %d is not the start of a line", tt.in, next)
		}

		// Byte by byte, the end is found when its LF arrives, and at the
		// same place; in pieces of three the same holds.
		for _, step := range []int{1, 3} {
			buf := []byte(tt.in)
			from, found, at := 0, -1, -1
			for k := step; found < 0 && k < len(buf)+step; k += step {
				k := min(k, len(buf))
				found, from = HeadEnd(buf[:k], from)
				at = k
			}
			if found != tt.want {
				t.Errorf("HeadEnd(%q) in steps of %d = %d, want %d", tt.in, step, found, tt.want)
			}
			if step == 1 && found >= 0 && at != found {
				t.Errorf("HeadEnd(%q) byte by byte found the end after %d bytes, want %d", tt.in, at, found)
			}
		}
	}
}

// A LF-only head is found so that Parse can refuse it.
func TestHeadEndThenParseBareLF(t *testing.T) {
	buf := []byte("GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	end, _ := HeadEnd(buf, 0)
	if end != 24 {
		t.Fatalf("HeadEnd = %d, want 24", end)
	}
	var req Request
	_, err := Parse(buf[:end], &req, Limits{})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 {
		t.Errorf("Parse of a LF-only head: %v, want status 400", err)
	}
}

// A flood of empty lines before the request line is skipped, by HeadEnd
// and by Parse, and both agree on the end of the head.
func TestLeadingEmptyLinesFlood(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	buf := []byte(strings.Repeat("\r\n", MaxHead/4) + head)
	end, _ := HeadEnd(buf, 0)
	if end != len(buf) {
		t.Fatalf("HeadEnd = %d, want %d", end, len(buf))
	}
	// The same flood arriving in pieces.
	from, found := 0, -1
	for k := 4096; found < 0 && k < len(buf)+4096; k += 4096 {
		found, from = HeadEnd(buf[:min(k, len(buf))], from)
	}
	if found != len(buf) {
		t.Errorf("HeadEnd in pieces = %d, want %d", found, len(buf))
	}
	var req Request
	if n, err := Parse(buf, &req, gunicornLimits); err != nil || n != len(buf) {
		t.Errorf("Parse = %d, %v; want %d, nil", n, err, len(buf))
	}
}

// HeadEnd and Parse agree on where a valid head ends, so the server never
// takes body bytes for head bytes or the reverse.
func TestHeadEndAgreesWithParse(t *testing.T) {
	heads := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\nGET / HTTP/1.0\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nX-Empty:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: \xff\xfe\r\n\r\n",
	}
	for _, head := range heads {
		buf := []byte(head + "\r\n\r\nbody\n\n")
		end, _ := HeadEnd(buf, 0)
		var req Request
		n, err := Parse(buf, &req, Limits{})
		if err != nil || n != len(head) || end != len(head) {
			t.Errorf("%q: HeadEnd %d, Parse %d, %v; want both %d", head, end, n, err, len(head))
		}
	}
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		b, s string
		want bool
	}{
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "content-length", true},
		{"content-length", "content-length", true},
		{"Content-Lengt", "content-length", false},
		{"Content-Length ", "content-length", false},
		{"Content_Length", "content-length", false},
		{"", "", true},
		// Only ASCII letters fold: 0xC0 is not 'à' upper-cased, and '@'
		// and '[' are not the neighbours of 'A' and 'Z' in disguise.
		{"\xc0", "\xe0", false},
		{"@", "`", false},
		{"[", "{", false},
	}
	for _, tt := range tests {
		if got := EqualFold([]byte(tt.b), tt.s); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v", tt.b, tt.s, got)
		}
		if got := EqualFoldBytes([]byte(tt.b), []byte(tt.s)); got != tt.want {
			t.Errorf("EqualFoldBytes(%q, %q) = %v", tt.b, tt.s, got)
		}
	}
	if !EqualFoldBytes([]byte("X-FORWARDED-For"), []byte("x-forwarded-FOR")) {
		t.Error("EqualFoldBytes is not case-insensitive on both sides")
	}
}

// Request slices point into the buffer: changing the buffer shows through.
func TestParseSlicesBuffer(t *testing.T) {
	buf := []byte("GET /p?q HTTP/1.1\r\nHost: a\r\n\r\n")
	var req Request
	if _, err := Parse(buf, &req, Limits{}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "PUT /r?s")
	if string(req.Method) != "PUT" || string(req.Path) != "/r" || string(req.Query) != "s" {
		t.Errorf("after changing the buffer: %s %s %s", req.Method, req.Path, req.Query)
	}
	if !bytes.Equal(req.Target, []byte("/r?s")) {
		t.Errorf("Target = %q", req.Target)
	}
}
