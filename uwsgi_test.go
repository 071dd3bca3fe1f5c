package gowsgi

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/uwsgi"
)

func uwsgiPacket(vars ...string) string {
	var block []byte
	for i := 0; i+1 < len(vars); i += 2 {
		block = uwsgi.AppendVar(block, vars[i], vars[i+1])
	}
	return string(append(uwsgi.AppendHeader(nil, len(block)), block...))
}

// TestUWSGIProtocol: the packet spoken directly; malformed ones close the
// connection and the server stays up.
func TestUWSGIProtocol(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	ln := listenLocal(t)
	serveUntilCleanup(t, &UWSGIServer{App: app}, ln)
	addr := ln.Addr().String()
	good := uwsgiPacket("REQUEST_METHOD", "POST", "PATH_INFO", "/x", "QUERY_STRING", "", "HTTPS", "1",
		"HTTP_HOST", "example.com", "CONTENT_LENGTH", "4") + "body"
	check := func() {
		t.Helper()
		got := raw(t, addr, good)
		for _, want := range []string{"HTTP/1.1 200 OK\r\n", `"wsgi.url_scheme": "https"`, `"SERVER_NAME": "example.com"`,
			`"SERVER_PORT": "443"`, `"body": "body"`} {
			if !strings.Contains(got, want) {
				t.Errorf("no %s in %q", want, got)
			}
		}
	}
	check()
	for name, bytes := range map[string]string{
		"HTTP instead":     "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"modifier1 5":      "\x05\x00\x00\x00",
		"cut block":        "\x00\x10\x00\x00\x01\x00",
		"key past block":   "\x00\x04\x00\x00\x09\x00ab",
		"CONTENT_LENGTH x": uwsgiPacket("REQUEST_METHOD", "GET", "CONTENT_LENGTH", "x"),
	} {
		conn := dial(t, addr)
		io.WriteString(conn, bytes)
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		if name == "CONTENT_LENGTH x" {
			if !strings.HasPrefix(string(got), "HTTP/1.1 400 ") {
				t.Errorf("%s: %q, want a 400", name, got)
			}
		} else if len(got) > 0 {
			t.Errorf("%s: answered %q, want the connection closed", name, got)
		}
		check()
	}
}
