package gowsgi

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// A request of many headers: beyond the few a request commonly has, the
// repeated ones are still joined in order (the environ finds them by
// sorting names, not by comparing every pair), and the gateways bound
// the header variables as the engine bounds header lines
// (--limit-request-fields): one more is a 431 with a log line, and the
// connection carries on.

// headerVars is n header variables, HTTP_COOKIE and HTTP_X_SAME among
// them at the start, the middle and the end.
func headerVars(n int) []string {
	var vars []string
	for i := range n {
		switch i {
		case 0, n / 2, n - 1:
			vars = append(vars, "HTTP_COOKIE", fmt.Sprintf("c%d=1", i))
		case 1, n/2 + 1, n - 2:
			vars = append(vars, "HTTP_X_SAME", fmt.Sprintf("v%d", i))
		default:
			vars = append(vars, fmt.Sprintf("HTTP_X_%03d", i), "x")
		}
	}
	return vars
}

// checkJoined checks the environ (JSON after the head) of headerVars(n).
func checkJoined(t *testing.T, out string, n int) {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "\r\n\r\n")+4:]), &env); err != nil {
		t.Fatalf("%v in %.300q", err, out)
	}
	wantCookie := fmt.Sprintf("c0=1; c%d=1; c%d=1", n/2, n-1)
	wantSame := fmt.Sprintf("v1, v%d, v%d", n/2+1, n-2)
	if env["HTTP_COOKIE"] != wantCookie || env["HTTP_X_SAME"] != wantSame {
		t.Errorf("HTTP_COOKIE %q, HTTP_X_SAME %q; want %q, %q", env["HTTP_COOKIE"], env["HTTP_X_SAME"], wantCookie, wantSame)
	}
	if env["HTTP_X_002"] != "x" || env[fmt.Sprintf("HTTP_X_%03d", n-3)] != "x" {
		t.Errorf("headers missing: %v", env)
	}
}

func TestFastCGIManyHeaders(t *testing.T) {
	addr, log := serveFastCGI(t, "environ", Options{})
	f := dialFastCGI(t, addr)
	// The default bound, 100, is a request's header variables, its Host aside.
	vars := append(append(append([]string(nil), getVars...), "HTTP_HOST", "example.com"), headerVars(100)...)
	f.begin(1, true, vars, 1000, []byte{})
	out, status := f.response(1)
	if status != 0 || !strings.HasPrefix(out, "Status: 200 OK\r\n") {
		t.Fatalf("100 headers: status %d, %.300q", status, out)
	}
	checkJoined(t, out, 100)

	vars = append(append([]string(nil), getVars...), headerVars(101)...)
	f.begin(2, true, vars, 1000, []byte{})
	if out, _ := f.response(2); !strings.HasPrefix(out, "Status: 431 ") {
		t.Fatalf("101 headers: %.300q, want a 431", out)
	}
	if !strings.Contains(log.String(), "refusing a request of too many headers") || !strings.Contains(log.String(), "headers=101 limit=100") {
		t.Errorf("no log line of the refusal in %q", log.String())
	}
	// The connection is kept, and serves the next request.
	f.begin(3, true, getVars, 1000, []byte{})
	if out, _ := f.response(3); !strings.HasPrefix(out, "Status: 200 OK\r\n") {
		t.Fatalf("after the 431: %.300q", out)
	}
}

func TestFastCGIMaxHeaders(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	for _, c := range []struct {
		max, n int
		want   string
	}{{3, 3, "200"}, {3, 4, "431"}, {-1, 5000, "200"}} {
		ln := listenLocal(t)
		serveUntilCleanup(t, &FastCGIServer{App: app, MaxHeaders: c.max}, ln)
		f := dialFastCGI(t, ln.Addr().String())
		f.begin(1, false, append(append([]string(nil), getVars...), headerVars(c.n)...), 60000, []byte{})
		out, _ := f.response(1)
		if !strings.HasPrefix(out, "Status: "+c.want+" ") {
			t.Fatalf("MaxHeaders %d, %d headers: %.200q, want %s", c.max, c.n, out, c.want)
		}
		if c.want == "200" && c.n > 3 {
			checkJoined(t, out, c.n)
		}
	}
}

func TestUWSGIManyHeaders(t *testing.T) {
	app, log, _ := newApp(t, Options{App: "conformance:environ"})
	ln := listenLocal(t)
	serveUntilCleanup(t, &UWSGIServer{App: app}, ln)
	addr := ln.Addr().String()
	send := func(n int) string {
		t.Helper()
		conn := dial(t, addr)
		io.WriteString(conn, uwsgiPacket(append([]string{"REQUEST_METHOD", "GET", "PATH_INFO", "/"}, headerVars(n)...)...))
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		return string(got)
	}
	if got := send(100); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("100 headers: %.300q", got)
	} else {
		checkJoined(t, got, 100)
	}
	if got := send(101); !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Fatalf("101 headers: %.300q, want a 431", got)
	}
	if !strings.Contains(log.String(), "headers=101 limit=100") {
		t.Errorf("no log line of the refusal in %q", log.String())
	}
	if got := send(10); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("after the 431: %.300q", got)
	}
}

// Over HTTP, the engine's parser bounds the header lines; without a bound
// the environ joins repeats among thousands of them.
func TestEngineManyHeaders(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	addr := serveEngine(t, app, func(s *Server) { s.Limits.Fields = -1 })
	var req strings.Builder
	req.WriteString("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n")
	vars := headerVars(3000)
	for i := 0; i < len(vars); i += 2 {
		name := strings.ReplaceAll(strings.TrimPrefix(vars[i], "HTTP_"), "_", "-")
		if i%4 == 0 {
			name = strings.ToLower(name) // names compare ignoring case
		}
		fmt.Fprintf(&req, "%s: %s\r\n", name, vars[i+1])
	}
	req.WriteString("\r\n")
	got := raw(t, addr, req.String())
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("%.300q", got)
	}
	checkJoined(t, got, 3000)
}
