package gowsgi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
)

type environ map[string]any

func (e environ) str(k string) string {
	s, _ := e[k].(string)
	return s
}

func getEnviron(t *testing.T, tg *target, method, path string, body string, header ...string) environ {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	var resp, text = tg.do(t, method, path, readerOrNil(r), header...)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %s %s\nlog:\n%s", method, path, resp.Status, text, tg.log)
	}
	var e environ
	if err := json.Unmarshal([]byte(text), &e); err != nil {
		t.Fatalf("%v: %q", err, text)
	}
	return e
}

func TestEnviron(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		e := getEnviron(t, tg, "POST", "/a%20b/%FF%2Fc?x=1&y=a%20b+c", "payload",
			"Content-Type", "text/plain; charset=utf-8",
			"X-Custom", "one", "X-Custom", "two",
			"Cookie", "a=1", "Cookie", "b=2",
			"X_Spoofed", "evil")
		host, _ := tg.hostVar(tg.addr)
		want := map[string]string{
			"REQUEST_METHOD":  "POST",
			"SCRIPT_NAME":     "",
			"PATH_INFO":       "/a b/\u00ff/c", // %FF is the byte 0xFF, as latin-1
			"QUERY_STRING":    "x=1&y=a%20b+c",
			"CONTENT_TYPE":    "text/plain; charset=utf-8",
			"CONTENT_LENGTH":  "7",
			"SERVER_PROTOCOL": "HTTP/1.1",
			"REMOTE_ADDR":     "127.0.0.1",
			"REQUEST_URI":     "/a%20b/%FF%2Fc?x=1&y=a%20b+c",
			"RAW_URI":         "/a%20b/%FF%2Fc?x=1&y=a%20b+c",
			"HTTP_HOST":       host,
			"HTTP_X_CUSTOM":   "one, two",
			"HTTP_COOKIE":     "a=1; b=2",
			"wsgi.url_scheme": "http",
			"body":            "payload",
			"SERVER_NAME":     "127.0.0.1",
			"SERVER_PORT":     tg.addr[strings.LastIndexByte(tg.addr, ':')+1:],
		}
		for k, v := range want {
			if got := e.str(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if e.str("REMOTE_PORT") == "" {
			t.Error("REMOTE_PORT missing")
		}
		for _, k := range []string{"HTTP_X_SPOOFED", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
			if _, ok := e[k]; ok {
				t.Errorf("%s must not be in the environ", k)
			}
		}
		if v, _ := e["wsgi.version"].([]any); len(v) != 2 || v[0] != float64(1) || v[1] != float64(0) {
			t.Errorf("wsgi.version = %v", e["wsgi.version"])
		}
		for k, v := range map[string]any{
			"wsgi.multithread": false, "wsgi.multiprocess": false, "wsgi.run_once": false,
			"wsgi.input_terminated": true, "has_read": true, "file_wrapper_callable": true, "errors_methods": true,
		} {
			if e[k] != v {
				t.Errorf("%s = %v, want %v", k, e[k], v)
			}
		}
	})
}

func TestEnvironWithoutBody(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		e := getEnviron(t, tg, "GET", "/", "")
		for _, k := range []string{"CONTENT_TYPE", "CONTENT_LENGTH"} {
			if _, ok := e[k]; ok {
				t.Errorf("%s present without a body: %q", k, e[k])
			}
		}
		if q, ok := e["QUERY_STRING"]; !ok || q != "" {
			t.Errorf("QUERY_STRING = %v, %v; want present and empty", q, ok)
		}
		if e.str("PATH_INFO") != "/" {
			t.Errorf("PATH_INFO = %q", e.str("PATH_INFO"))
		}
	})
}

func TestEnvironServerName(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		for _, c := range []struct{ host, name, port string }{
			{"example.com:8080", "example.com", "8080"},
			{"example.com", "example.com", "80"},
			{"[::1]:9000", "[::1]", "9000"},
			{"[::1]", "[::1]", "80"},
		} {
			e := getEnviron(t, tg, "GET", "/", "", "Host", c.host)
			port := c.port
			if tg.gateway() {
				// nginx sends SERVER_PORT: its own port ($server_port).
				port = tg.addr[strings.LastIndexByte(tg.addr, ':')+1:]
			}
			host, _ := tg.hostVar(c.host)
			if e.str("SERVER_NAME") != c.name || e.str("SERVER_PORT") != port || e.str("HTTP_HOST") != host {
				t.Errorf("Host %q: SERVER_NAME %q SERVER_PORT %q HTTP_HOST %q", c.host,
					e.str("SERVER_NAME"), e.str("SERVER_PORT"), e.str("HTTP_HOST"))
			}
		}
	})
}

// An HTTP/1.0 request without Host takes the listener's address.
func TestEnvironHTTP10(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		out := raw(t, tg.addr, "GET /ten HTTP/1.0\r\n\r\n")
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.") || !strings.Contains(head, " 200 ") {
			t.Fatalf("answer: %q", out)
		}
		var e environ
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("%v: %q", err, body)
		}
		host, port, _ := net.SplitHostPort(tg.addr)
		if e.str("SERVER_PROTOCOL") != "HTTP/1.0" || e.str("SERVER_NAME") != host || e.str("SERVER_PORT") != port {
			t.Errorf("SERVER_PROTOCOL %q SERVER_NAME %q SERVER_PORT %q", e.str("SERVER_PROTOCOL"), e.str("SERVER_NAME"), e.str("SERVER_PORT"))
		}
		want, wantOK := tg.hostVar("")
		if got, ok := e["HTTP_HOST"]; ok != wantOK || ok && got != want {
			t.Errorf("without a Host header: HTTP_HOST %q (present: %v), want %q (present: %v)", got, ok, want, wantOK)
		}
	})
}

func TestEnvironMultithread(t *testing.T) {
	run(t, "environ", Options{Threads: 3}, func(t *testing.T, tg *target) {
		if e := getEnviron(t, tg, "GET", "/", ""); e["wsgi.multithread"] != true {
			t.Errorf("wsgi.multithread = %v with 3 threads", e["wsgi.multithread"])
		}
	})
	run(t, "environ", Options{Multiprocess: true}, func(t *testing.T, tg *target) {
		if e := getEnviron(t, tg, "GET", "/", ""); e["wsgi.multiprocess"] != true {
			t.Errorf("wsgi.multiprocess = %v", e["wsgi.multiprocess"])
		}
	})
}

// ScriptName mounts the application under a prefix.
func TestEnvironScriptName(t *testing.T) {
	run(t, "environ", Options{ScriptName: "/legacy/"}, func(t *testing.T, tg *target) {
		for path, want := range map[string]string{"/legacy/a/b?q": "/a/b", "/legacy": "", "/legacy/": "/"} {
			e := getEnviron(t, tg, "GET", path, "")
			if e.str("SCRIPT_NAME") != "/legacy" || e.str("PATH_INFO") != want {
				t.Errorf("%s: SCRIPT_NAME %q PATH_INFO %q, want /legacy %q", path, e.str("SCRIPT_NAME"), e.str("PATH_INFO"), want)
			}
		}
		for _, path := range []string{"/legacyx", "/other"} {
			if resp, _ := tg.get(t, path); resp.StatusCode != 404 {
				t.Errorf("%s outside the mount: %s, want 404", path, resp.Status)
			}
		}
	})
}

func TestEnvironErrors(t *testing.T) {
	run(t, "errors", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("%s %q", resp.Status, body)
		}
		want := "wsgi.errors says hello\nline one\nline two\n"
		if got := tg.errors.String(); got != want {
			t.Errorf("wsgi.errors received %q, want %q", got, want)
		}
	})
}

// Both front ends must build the same environ for the same request: the
// engine's own parser against net/http's.
func TestEnvironSameOnBothFrontEnds(t *testing.T) {
	requests := []string{
		"GET /plain HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /q/%41%2f%ff?a=%20&b=+ HTTP/1.1\r\nHost: example.org:81\r\nUser-Agent: t\r\nAccept: a\r\nAccept: b\r\n\r\n",
		"POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2",
		"POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
		"GET /v6 HTTP/1.1\r\nHost: [::1]:8080\r\nX-Forwarded-For: 1.2.3.4\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
		"GET http://absolute.example:9/abs?x HTTP/1.1\r\nHost: ignored\r\n\r\n",
		"OPTIONS /opt HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab: \tv\t \r\n\r\n",
		// One rule for a repeated header, Content-Type included.
		"POST /ct HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\ncontent-type: charset=x\r\nContent-Length: 1\r\n\r\nx",
	}
	engine := serve(t, variant{engine: true}, Options{App: "conformance:environ"})
	nethttp := serve(t, variant{engine: false}, Options{App: "conformance:environ"})
	volatile := map[string]bool{"REMOTE_PORT": true, "SERVER_PORT": true}
	for _, req := range requests {
		a, b := rawEnviron(t, engine.addr, req), rawEnviron(t, nethttp.addr, req)
		if strings.HasPrefix(req, "POST /ct ") && a.str("CONTENT_TYPE") != "text/plain, charset=x" {
			t.Errorf("a repeated Content-Type: CONTENT_TYPE %q, want the values joined", a.str("CONTENT_TYPE"))
		}
		for k := range union(a, b) {
			if volatile[k] {
				continue
			}
			if fmt.Sprint(a[k]) != fmt.Sprint(b[k]) {
				t.Errorf("%q\n  %s: engine %v, net/http %v", strings.SplitN(req, "\r\n", 2)[0], k, a[k], b[k])
			}
		}
	}
}

func rawEnviron(t *testing.T, addr, req string) environ {
	t.Helper()
	c := dial(t, addr)
	c.Write([]byte(req))
	method, _, _ := strings.Cut(req, " ")
	got := readResponses(t, bufio.NewReader(c), 1, method)
	status, body, _ := strings.Cut(got[0], "|")
	if !strings.HasPrefix(status, "200") {
		t.Fatalf("%q: %s %s", req, status, body)
	}
	var e environ
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	return e
}

func union(a, b environ) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}
