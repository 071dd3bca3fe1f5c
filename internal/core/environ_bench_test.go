package core

import (
	"testing"

	"github.com/gowsgi/gowsgi/internal/h1"
)

// The environ of a common request, without Python: what finding repeated
// headers costs on the hot path (a browser's dozen headers, nginx's
// fastcgi_params), beside the rest of the environ's building.

// benchRequest is a request of an App with the default options, outside
// any pool: its environ is built as for a real request.
func benchRequest(b *testing.B) *Request {
	opts := Options{}
	opts.setDefaults()
	a := &App{opts: opts}
	a.proxy, _ = newProxyTrust(&a.opts)
	r := newRequest(a)
	b.Cleanup(r.destroy)
	return r
}

const browserHead = "GET /articles/42?page=2 HTTP/1.1\r\nHost: example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\nCookie: session=abc\r\nCookie: theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-Site: none\r\nPriority: u=0, i\r\n\r\n"

func BenchmarkEnvironFromH1Browser(b *testing.B) {
	r := benchRequest(b)
	var hreq h1.Request
	if _, err := h1.Parse([]byte(browserHead), &hreq, h1.Limits{}); err != nil {
		b.Fatal(err)
	}
	peer := &Peer{RemoteIP: "127.0.0.1", RemotePort: "5000", LocalName: "127.0.0.1", LocalPort: "8000"}
	b.ReportAllocs()
	for b.Loop() {
		r.recycle()
		if status := r.EnvironFromH1(&hreq, peer); status != 0 {
			b.Fatal(status)
		}
	}
}

// nginxVars are the variables of nginx's fastcgi_params for a browser's
// request (its headers as above).
var nginxVars = [][2][]byte{}

func init() {
	for _, kv := range [][2]string{
		{"QUERY_STRING", "page=2"}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""},
		{"SCRIPT_NAME", ""}, {"REQUEST_URI", "/articles/42?page=2"}, {"DOCUMENT_URI", "/articles/42"},
		{"DOCUMENT_ROOT", "/var/www/html"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"},
		{"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_SOFTWARE", "nginx/1.22.1"}, {"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "5000"}, {"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "80"}, {"SERVER_NAME", "example.com"},
		{"REDIRECT_STATUS", "200"}, {"PATH_INFO", "/articles/42"},
		{"HTTP_HOST", "example.com"}, {"HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		{"HTTP_ACCEPT", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.5"}, {"HTTP_ACCEPT_ENCODING", "gzip, deflate, br"},
		{"HTTP_CONNECTION", "keep-alive"}, {"HTTP_COOKIE", "session=abc"}, {"HTTP_COOKIE", "theme=dark"},
		{"HTTP_UPGRADE_INSECURE_REQUESTS", "1"}, {"HTTP_SEC_FETCH_DEST", "document"},
		{"HTTP_SEC_FETCH_MODE", "navigate"}, {"HTTP_SEC_FETCH_SITE", "none"}, {"HTTP_PRIORITY", "u=0, i"},
	} {
		nginxVars = append(nginxVars, [2][]byte{[]byte(kv[0]), []byte(kv[1])})
	}
}

func BenchmarkEnvironFromCGINginx(b *testing.B) {
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		r.recycle()
		if status, _ := r.EnvironFromCGI(nginxVars, Peer{}, 100); status != 0 {
			b.Fatal(status)
		}
	}
}
