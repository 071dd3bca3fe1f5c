package gowsgi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The conformance applications through the CGI gateway (App.ServeCGI, what
// gowsgi cgi runs), its output checked as a web server reads it: the Status
// line, the headers, the body.

// cgiResult is one CGI response.
type cgiResult struct {
	status string
	header textproto.MIMEHeader
	body   string
	err    error // ServeCGI's: the response was not written whole
}

// cgiEnv is a web server's CGI variables for a GET of /app.cgi/p.
var cgiEnv = []string{
	"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SCRIPT_NAME=/app.cgi", "PATH_INFO=/p",
	"QUERY_STRING=", "SERVER_NAME=example.com", "SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.1",
	"REMOTE_ADDR=192.0.2.1", "REQUEST_URI=/app.cgi/p",
}

// newCGIApp loads a conformance application as gowsgi cgi does.
func newCGIApp(t *testing.T, name string) (*App, *syncBuffer) {
	t.Helper()
	app, log, _ := newApp(t, Options{App: "conformance:" + name, Threads: 1, Multiprocess: true, RunOnce: true, QueueTimeout: -1})
	return app, log
}

// runCGI runs one request: cgiEnv with the variables of env added (a later
// one replaces an earlier one of the same name), stdin as the body.
func runCGI(t *testing.T, app *App, stdin string, env ...string) cgiResult {
	t.Helper()
	vars := map[string]string{}
	var order []string
	for _, kv := range append(slices.Clone(cgiEnv), env...) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	var environ []string
	for _, k := range order {
		environ = append(environ, k+"="+vars[k])
	}
	var out bytes.Buffer
	err := app.ServeCGI(environ, strings.NewReader(stdin), &out, CGIOptions{})
	tp := textproto.NewReader(bufio.NewReader(&out))
	line, lerr := tp.ReadLine()
	status, ok := strings.CutPrefix(line, "Status: ")
	if lerr != nil || !ok {
		t.Fatalf("%v: the response does not begin with a Status line: %q", env, out.String())
	}
	header, herr := tp.ReadMIMEHeader()
	if herr != nil {
		t.Fatalf("%v: the response head: %v", env, herr)
	}
	var rest bytes.Buffer
	rest.ReadFrom(tp.R)
	return cgiResult{status: status, header: header, body: rest.String(), err: err}
}

func TestCGIEnviron(t *testing.T) {
	app, _ := newCGIApp(t, "environ")
	res := runCGI(t, app, "payload", "REQUEST_METHOD=POST", "QUERY_STRING=x=1", "CONTENT_TYPE=text/plain",
		"CONTENT_LENGTH=7", "HTTP_COOKIE=a=1", "HTTP_CONTENT_LENGTH=7", "wsgi.input=spoofed")
	if res.status != "200 OK" || res.header.Get("Content-Type") != "application/json" || res.header.Get("Content-Length") != fmt.Sprint(len(res.body)) {
		t.Fatalf("%s %v", res.status, res.header)
	}
	var e environ
	if err := json.Unmarshal([]byte(res.body), &e); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/p", "QUERY_STRING": "x=1",
		"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "7", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
		"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.1", "HTTP_COOKIE": "a=1", "GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_URI": "/app.cgi/p", "RAW_URI": "/app.cgi/p", "body": "payload",
		"wsgi.url_scheme": "http", "wsgi.input": "Input", "wsgi.run_once": true, "wsgi.multiprocess": true, "wsgi.multithread": false,
		"wsgi.input_terminated": true, "has_read": true, "file_wrapper_callable": true, "errors_methods": true,
	} {
		if e[k] != v {
			t.Errorf("%s = %v, want %v", k, e[k], v)
		}
	}
	if _, ok := e["HTTP_CONTENT_LENGTH"]; ok {
		t.Error("HTTP_CONTENT_LENGTH must not be in the environ")
	}

	res = runCGI(t, app, "", "HTTPS=on")
	e = nil
	json.Unmarshal([]byte(res.body), &e)
	if e.str("wsgi.url_scheme") != "https" {
		t.Errorf("HTTPS=on: wsgi.url_scheme %q", e.str("wsgi.url_scheme"))
	}
	for _, k := range []string{"CONTENT_TYPE", "CONTENT_LENGTH"} {
		if _, ok := e[k]; ok {
			t.Errorf("without a body: %s = %v", k, e[k])
		}
	}
}

// The table: one request each, what the web server must get.
func TestCGIConformance(t *testing.T) {
	linesLength := fmt.Sprint("CONTENT_LENGTH=", len(lines))
	data := pattern(1<<20 + 7)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, app, stdin string
		env              []string
		status, body     string
		header           []string // name, value pairs that must be there
		log              string   // in the error log
		cut              bool     // ServeCGI reports the response incomplete
	}{
		{name: "read", app: "input_read", stdin: lines, env: []string{"REQUEST_METHOD=POST", linesLength, "QUERY_STRING=read-1"},
			status: "200 OK", body: `["first line\nsecond\n\nfourth without newline"]`},
		{name: "readline(n)", app: "input_read", stdin: lines, env: []string{"REQUEST_METHOD=POST", linesLength, "QUERY_STRING=readlinen=4"},
			status: "200 OK", body: `["firs", "t li", "ne\n", "seco", "nd\n", "\n", "four", "th w", "itho", "ut n", "ewli", "ne", ""]`},
		{name: "readlines", app: "input_read", stdin: lines, env: []string{"REQUEST_METHOD=POST", linesLength, "QUERY_STRING=readlines"},
			status: "200 OK", body: `["first line\n", "second\n", "\n", "fourth without newline"]`},
		{name: "iteration", app: "input_read", stdin: lines, env: []string{"REQUEST_METHOD=POST", linesLength, "QUERY_STRING=iter"},
			status: "200 OK", body: `["first line\n", "second\n", "\n", "fourth without newline"]`},
		// stdin holds more than CONTENT_LENGTH: the body ends where it says.
		{name: "never past the body", app: "input_read", stdin: lines + "garbage", env: []string{"REQUEST_METHOD=POST", linesLength, "QUERY_STRING=past"},
			status: "200 OK", body: `["first line\nsecond\n\nfourth without newline", ""]`},
		{name: "invalid CONTENT_LENGTH", app: "input_read", env: []string{"REQUEST_METHOD=POST", "CONTENT_LENGTH=x", "QUERY_STRING=read-1"},
			status: "400 Bad Request"},
		{name: "status-noreason", app: "bad", env: []string{"QUERY_STRING=status-noreason"},
			status: "500 Internal Server Error", body: "Internal Server Error\n", log: "three-digit code"},
		{name: "header-hop", app: "bad", env: []string{"QUERY_STRING=header-hop"},
			status: "500 Internal Server Error", body: "Internal Server Error\n", log: "hop-by-hop header 'Connection'"},
		{name: "header-crlf", app: "bad", env: []string{"QUERY_STRING=header-crlf"},
			status: "500 Internal Server Error", body: "Internal Server Error\n", log: "must not contain CR, LF"},
		{name: "twice", app: "bad", env: []string{"QUERY_STRING=twice"},
			status: "500 Internal Server Error", body: "Internal Server Error\n", log: "start_response() called a second time without exc_info"},
		{name: "no-start", app: "bad", env: []string{"QUERY_STRING=no-start"},
			status: "500 Internal Server Error", body: "Internal Server Error\n", log: "body data before calling start_response()"},
		{name: "exception", app: "boom", status: "500 Internal Server Error", body: "Internal Server Error\n",
			header: []string{"Content-Type", "text/plain; charset=utf-8"}, log: "ValueError: kaboom"},
		{name: "exception after the head", app: "boom_after", status: "200 OK", body: strings.Repeat("x", 100),
			log: "ValueError: kaboom after the head", cut: true},
		{name: "exc_info before the head", app: "exc_before", status: "500 Oops", body: "handled"},
		{name: "exc_info after an empty chunk", app: "exc_lazy", status: "404 Not Here", body: "replaced"},
		{name: "exc_info after the head", app: "exc_after", env: []string{"QUERY_STRING=cgi"}, status: "200 OK", body: "partial",
			log: "ValueError: late failure", cut: true},
		{name: "write()", app: "write", status: "200 OK", body: "one,two,three,four"},
		{name: "write() between chunks", app: "write_interleaved", status: "200 OK", body: "abcd"},
		{name: "lazy start_response", app: "lazy", status: "201 Created", body: "lazy"},
		{name: "lazy start_response, empty body", app: "lazy_empty", status: "202 Accepted", body: ""},
		{name: "Content-Length honoured", app: "cl_over", status: "200 OK", body: "01234", header: []string{"Content-Length", "5"},
			log: "more than its Content-Length"},
		{name: "Content-Length short", app: "cl_under", status: "200 OK", body: "01234", header: []string{"Content-Length", "10"}, cut: true},
		{name: "Content-Length from a list", app: "hello", status: "200 OK", body: "Hello, world!", header: []string{"Content-Length", "13"}},
		{name: "HEAD", app: "hello", env: []string{"REQUEST_METHOD=HEAD"}, status: "200 OK", body: "", header: []string{"Content-Length", "13"}},
		{name: "HEAD of a stream", app: "stream", env: []string{"REQUEST_METHOD=HEAD", "QUERY_STRING=5"}, status: "200 OK", body: ""},
		{name: "204", app: "status", env: []string{"QUERY_STRING=204%20No%20Content"}, status: "204 No Content", body: ""},
		{name: "reason phrase", app: "status", env: []string{"QUERY_STRING=299%20Custom%20Reason"}, status: "299 Custom Reason",
			body: "body that must not be sent for 1xx, 204 and 304"},
		{name: "file_wrapper", app: "file", env: []string{"HTTP_X_FILE=" + path, "HTTP_X_OFFSET=1000"}, status: "200 OK", body: string(data[1000:]),
			header: []string{"Content-Length", fmt.Sprint(len(data) - 1000)}},
		{name: "file_wrapper of a file-like", app: "filelike", status: "200 OK", body: strings.Repeat("0123456789", 500)},
		{name: "stream", app: "stream", env: []string{"QUERY_STRING=3"}, status: "200 OK",
			body: strings.Repeat("A", 1024) + strings.Repeat("B", 1024) + strings.Repeat("C", 1024)},
	}
	apps := map[string]*App{}
	logs := map[string]*syncBuffer{}
	for _, c := range cases {
		if apps[c.app] == nil {
			apps[c.app], logs[c.app] = newCGIApp(t, c.app) // one App per application, as for HTTP
		}
		app, log := apps[c.app], logs[c.app]
		t.Run(c.name, func(t *testing.T) {
			res := runCGI(t, app, c.stdin, c.env...)
			if res.status != c.status || c.status != "400 Bad Request" && res.body != c.body {
				t.Errorf("Status: %s, %d bytes %.200q; want %s, %d bytes %.200q", res.status, len(res.body), res.body, c.status, len(c.body), c.body)
			}
			for i := 0; i+1 < len(c.header); i += 2 {
				if got := res.header.Get(c.header[i]); got != c.header[i+1] {
					t.Errorf("%s: %q, want %q (%v)", c.header[i], got, c.header[i+1], res.header)
				}
			}
			if res.header.Get("X-Injected") != "" {
				t.Errorf("a header was injected: %v", res.header)
			}
			if c.log != "" && !strings.Contains(log.String(), c.log) {
				t.Errorf("the error log lacks %q:\n%s", c.log, log)
			}
			if (res.err != nil) != c.cut {
				t.Errorf("ServeCGI: %v; want an incomplete response reported: %v", res.err, c.cut)
			}
		})
	}
}

// close() is called after a whole response and after an error while
// iterating.
func TestCGICloseCalled(t *testing.T) {
	app, _ := newCGIApp(t, "tracked")
	if res := runCGI(t, app, "", "QUERY_STRING=cgi-ok:ok"); res.status != "200 OK" || len(res.body) != 3*65536 {
		t.Errorf("ok: %s, %d bytes", res.status, len(res.body))
	}
	if res := runCGI(t, app, "", "QUERY_STRING=cgi-fail:fail"); res.err == nil {
		t.Errorf("an error while iterating: the response was reported whole (%s, %d bytes)", res.status, len(res.body))
	}
	// ServeCGI returns once the request is over, close() included.
	closedApp, _ := newCGIApp(t, "closed")
	var got []string
	json.Unmarshal([]byte(runCGI(t, closedApp, "").body), &got)
	if !slices.Contains(got, "cgi-ok") || !slices.Contains(got, "cgi-fail") {
		t.Errorf("close() called for %q, want cgi-ok and cgi-fail", got)
	}
}
