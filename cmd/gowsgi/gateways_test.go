package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/fcgi"
	"github.com/gowsgi/gowsgi/internal/testutil"
	"github.com/gowsgi/gowsgi/internal/uwsgi"
)

// TestBindGateways: the master binds fcgi:// and uwsgi:// sockets beside
// an HTTP one, and the worker serves each with its protocol.
func TestBindGateways(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	s := testutil.Start(t, testutil.Options{}, "-b", "fcgi://127.0.0.1:0", "-b", "uwsgi:unix:"+sock, "conformance:hello")
	m := regexp.MustCompile(`Listening at: fcgi://(\S+)`).FindStringSubmatch(s.Log.String())
	if m == nil || !strings.Contains(s.Log.String(), "Listening at: uwsgi:unix:"+sock) {
		t.Fatalf("no fcgi:// and uwsgi:unix: listeners in the log:\n%s", s.Log)
	}
	if resp, err := http.Get(s.URL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP: %v %v", resp, err)
	}

	c, err := net.DialTimeout("tcp", m[1], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var params []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/"}, {"SERVER_NAME", "x"}, {"SERVER_PORT", "80"}} {
		params = fcgi.AppendParam(params, kv[0], kv[1])
	}
	fcgi.WriteRecord(c, fcgi.TypeBeginRequest, 1, fcgi.AppendBeginRequest(nil, fcgi.RoleResponder, 0))
	fcgi.WriteRecord(c, fcgi.TypeParams, 1, params)
	fcgi.WriteRecord(c, fcgi.TypeParams, 1, nil)
	fcgi.WriteRecord(c, fcgi.TypeStdin, 1, nil)
	var out bytes.Buffer
	for rd := fcgi.NewReader(c); ; {
		rec, err := rd.Next()
		if err != nil {
			t.Fatalf("FastCGI: %v after %q", err, out.String())
		}
		if rec.Type == fcgi.TypeEndRequest {
			break
		}
		out.Write(rec.Content)
	}
	if !strings.HasPrefix(out.String(), "Status: 200 OK\r\n") || !strings.HasSuffix(out.String(), "Hello, world!") {
		t.Errorf("FastCGI answer %q", out.String())
	}

	u, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(30 * time.Second))
	var block []byte
	block = uwsgi.AppendVar(block, "REQUEST_METHOD", "GET")
	block = uwsgi.AppendVar(block, "PATH_INFO", "/")
	u.Write(append(uwsgi.AppendHeader(nil, len(block)), block...))
	got, _ := io.ReadAll(u)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(got), "Hello, world!") {
		t.Errorf("uwsgi answer %q", got)
	}
}

const lighttpdBinary = "/usr/sbin/lighttpd"

// startLighttpd serves dir/www with mod_cgi running *.cgi programs, on a
// free port of 127.0.0.1; it is killed by its PID when the test ends.
func startLighttpd(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Stat(lighttpdBinary); err != nil {
		t.Fatalf("%s is missing: the CGI tests need lighttpd (apt-get install lighttpd; make test installs it as root)", lighttpdBinary)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	conf := fmt.Sprintf(`server.document-root = %[1]q
server.bind = "127.0.0.1"
server.port = %[2]d
server.errorlog = %[3]q
server.modules = ("mod_cgi")
cgi.assign = (".cgi" => "")
`, filepath.Join(dir, "www"), addr.Port, filepath.Join(dir, "error.log"))
	confPath := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &testutil.Buffer{}
	cmd := exec.Command(lighttpdBinary, "-D", "-f", confPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			errlog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("lighttpd:\n%s\n%s", out, errlog)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			t.Fatalf("lighttpd exited:\n%s", out)
		default:
		}
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			c.Close()
			return "http://" + addr.String()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("lighttpd did not listen on %s", addr)
	return ""
}

// TestCGIUnderLighttpd runs gowsgi cgi as lighttpd's CGI program, through a
// wrapper script per application, as docs/gateways.md shows.
func TestCGIUnderLighttpd(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	os.Mkdir(www, 0o755)
	for name, spec := range map[string]string{
		"environ": `conformance:validated("environ")`,
		"hash":    `conformance:validated("input_hash")`,
		"boom":    "conformance:boom",
	} {
		script := fmt.Sprintf("#!/bin/sh\nexec %s cgi --chdir %s '%s'\n", bin, testutil.Testdata(), spec)
		if err := os.WriteFile(filepath.Join(www, name+".cgi"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base := startLighttpd(t, dir)
	client := &http.Client{Timeout: 60 * time.Second}

	resp, err := client.Get(base + "/environ.cgi/a/b?x=1&y=2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &e) != nil {
		t.Fatalf("GET: %s %q", resp.Status, body)
	}
	for k, v := range map[string]any{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/environ.cgi", "PATH_INFO": "/a/b", "QUERY_STRING": "x=1&y=2",
		"SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "GATEWAY_INTERFACE": "CGI/1.1",
		"wsgi.url_scheme": "http", "wsgi.run_once": true, "wsgi.multithread": false, "wsgi.multiprocess": true,
	} {
		if e[k] != v {
			t.Errorf("%s = %v, want %v", k, e[k], v)
		}
	}
	if cl, ok := e["CONTENT_LENGTH"]; ok && cl != "0" { // lighttpd sends 0
		t.Errorf("GET: CONTENT_LENGTH %v", cl)
	}
	if strings.Contains(string(body), "AssertionError") {
		t.Errorf("wsgiref.validate fired: %s", body)
	}

	payload := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB
	resp, err = client.Post(base+"/hash.cgi", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), fmt.Sprintf(`"length": %d`, len(payload))) {
		t.Errorf("POST: %s %q", resp.Status, body)
	}

	resp, err = client.Get(base + "/boom.cgi")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("an exception: %s, want 500", resp.Status)
	}
}

// TestCGIDirect runs gowsgi cgi as a web server would, without one: the
// IIS correction of PATH_INFO, a body on stdin, the traceback on stderr.
func TestCGIDirect(t *testing.T) {
	bin := testutil.Binary(t)
	run := func(stdin string, args []string, env ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"cgi"}, args...)...)
		cmd.Dir = testutil.Testdata()
		cmd.Env = append(testutil.CleanEnv(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		cmd.Run()
		return out.String(), errs.String()
	}
	cgiEnv := []string{"REQUEST_METHOD=POST", "SCRIPT_NAME=/app", "PATH_INFO=/app/x/y", "QUERY_STRING=q=1",
		"SERVER_NAME=example.com", "SERVER_PORT=443", "HTTPS=on", "CONTENT_LENGTH=5", "CONTENT_TYPE=text/plain"}

	out, errs := run("hello and more", []string{"--iis", "conformance:environ"}, cgiEnv...)
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	var e map[string]any
	if !strings.HasPrefix(head, "Status: 200 OK\r\n") || json.Unmarshal([]byte(body), &e) != nil {
		t.Fatalf("--iis: %q\nstderr:\n%s", out, errs)
	}
	for k, v := range map[string]any{"SCRIPT_NAME": "/app", "PATH_INFO": "/x/y", "body": "hello",
		"wsgi.url_scheme": "https", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5"} {
		if e[k] != v {
			t.Errorf("--iis: %s = %v, want %v", k, e[k], v)
		}
	}

	out, _ = run("hello", []string{"conformance:environ"}, cgiEnv...)
	if !strings.Contains(out, `"PATH_INFO": "/app/x/y"`) {
		t.Errorf("without --iis PATH_INFO stays as given: %q", out)
	}

	// A body shorter than CONTENT_LENGTH is a bad request.
	if out, _ = run("hel", []string{"conformance:environ"}, cgiEnv...); !strings.HasPrefix(out, "Status: 400 ") {
		t.Errorf("a short body: %q", out)
	}

	out, errs = run("", []string{"conformance:boom"}, "REQUEST_METHOD=GET")
	if !strings.HasPrefix(out, "Status: 500 Internal Server Error\r\n") || !strings.Contains(errs, "kaboom") {
		t.Errorf("an exception: stdout %q, stderr %q", out, errs)
	}
}

// --max-connections bounds a gateway socket's connections too: with 1, a
// second uwsgi request waits in the kernel's queue until the first
// connection closes, then is answered.
func TestGatewayMaxConnections(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	s := testutil.Start(t, testutil.Options{}, "--max-connections", "1", "-b", "uwsgi:unix:"+sock, "conformance:hello")
	if !s.WaitLog("Listening at: uwsgi:unix:"+sock, 10*time.Second) {
		t.Fatalf("no uwsgi:unix: listener in the log:\n%s", s.Log)
	}
	dial := func() net.Conn {
		c, err := net.DialTimeout("unix", sock, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var block []byte
	block = uwsgi.AppendVar(block, "REQUEST_METHOD", "GET")
	block = uwsgi.AppendVar(block, "PATH_INFO", "/")
	request := append(uwsgi.AppendHeader(nil, len(block)), block...)

	first := dial() // sends nothing yet: it holds the one connection
	second := dial()
	second.Write(request)
	second.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := io.ReadAll(second); len(b) != 0 || err == nil {
		t.Fatalf("a second connection was served beside the first with --max-connections 1: %q %v", b, err)
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(30 * time.Second))
	if got, _ := io.ReadAll(second); !strings.HasSuffix(string(got), "Hello, world!") {
		t.Errorf("once the first closed: %q", got)
	}
}
