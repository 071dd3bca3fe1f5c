package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// requestLine is a GET whose request line (without CRLF) is n octets.
func requestLine(n int) string {
	return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
}

func statusOf(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, req)
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return line
}

// The default --limit-request-line is 8190: the 8000 octets RFC 9112
// section 3 recommends are served (gunicorn's 4094 refuses them), one
// past the limit is a 414; gunicorn's 4094 still works as a setting.
func TestRequestLineLimit(t *testing.T) {
	for _, c := range []struct {
		flags     []string
		ok, toBig int
	}{
		{nil, 8190, 8191},
		{[]string{"--limit-request-line", "4094"}, 4094, 4095},
	} {
		s := testutil.Start(t, testutil.Options{}, append(c.flags, "--pythonpath", ".", "conformance:hello")...)
		for _, n := range []int{100, 8000, c.ok, c.toBig} {
			want := "200"
			if n > c.ok {
				want = "414"
			}
			if line := statusOf(t, s.Addr, requestLine(n)); !strings.HasPrefix(line, "HTTP/1.1 "+want+" ") {
				t.Errorf("%v: a request line of %d octets: %q, want %s", c.flags, n, line, want)
			}
		}
	}
}
