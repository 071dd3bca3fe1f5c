package gowsgi

import (
	"strings"
	"testing"
)

// Server's default request line limit is 8190 octets (Limits.RequestLine):
// RFC 9112 section 3 recommends accepting at least 8000; one octet more
// than the limit is a 414, whatever the limit.
func TestRequestLineDefault(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:hello"})
	line := func(n int) string {
		return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
	}
	for _, c := range []struct {
		limit, n int
		want     string
	}{
		{0, 8000, "200"}, {0, 8190, "200"}, {0, 8191, "414"}, {0, 20000, "414"},
		{4094, 4094, "200"}, {4094, 4095, "414"}, {4094, 8000, "414"},
	} {
		addr := serveEngine(t, app, func(s *Server) { s.Limits.RequestLine = c.limit })
		if got := raw(t, addr, line(c.n)); !strings.HasPrefix(got, "HTTP/1.1 "+c.want+" ") {
			t.Errorf("limit %d, a request line of %d octets: %.100q, want %s", c.limit, c.n, got, c.want)
		}
	}
}
