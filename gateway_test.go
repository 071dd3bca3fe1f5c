package gowsgi

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// The FastCGI and uwsgi gateways are tested behind a real nginx, started
// for each test on a free port of 127.0.0.1 with the configuration
// docs/gateways.md gives. The conformance tests run through them as through
// the HTTP front ends (see run in main_test.go); the tests here are about
// what only a gateway does.

const nginxBinary = "/usr/sbin/nginx"

// nginxLocations are the location blocks docs/gateways.md shows; the
// upstream "gowsgi" is the gateway's address.
var nginxLocations = map[string]string{
	"fcgi": `
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param PATH_INFO $document_uri;
            fastcgi_pass gowsgi;
            fastcgi_keep_conn on;
        }`,
	"uwsgi": `
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass gowsgi;
        }`,
}

// countingListener counts the connections the front server opened.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// serveGateway serves app over protocol ("fcgi" or "uwsgi") behind nginx
// and returns nginx's address and the count of connections nginx opened
// to the gateway.
func serveGateway(t *testing.T, app *App, protocol string) (string, *atomic.Int32) {
	t.Helper()
	ln := listenLocal(t)
	cl := &countingListener{Listener: ln}
	switch protocol {
	case "fcgi":
		serveUntilCleanup(t, &FastCGIServer{App: app}, cl)
	case "uwsgi":
		serveUntilCleanup(t, &UWSGIServer{App: app}, cl)
	default:
		t.Fatalf("no gateway %q", protocol)
	}
	return startNginx(t, ln.Addr().String(), nginxLocations[protocol]), &cl.accepted
}

// startNginx runs nginx in the foreground, in its own temporary prefix,
// with one server on a free port of 127.0.0.1 holding location, and
// returns its address. The upstream "gowsgi" is upstream, with kept
// connections. nginx is killed by its PID when the test ends.
func startNginx(t *testing.T, upstream, location string) string {
	t.Helper()
	if _, err := os.Stat(nginxBinary); err != nil {
		t.Fatalf("%s is missing: the gateway tests need nginx (apt-get install nginx-light; make test installs it as root)", nginxBinary)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    proxy_temp_path %[1]s/proxy;
    scgi_temp_path %[1]s/scgi;
    client_max_body_size 64m;
    upstream gowsgi {
        server %[4]s;
        keepalive 8;
    }
    server {
        listen %[2]s;
        root %[1]s;
        %[3]s
    }
}
`, dir, addr, location, upstream)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &testutil.Buffer{}
	cmd := exec.Command(nginxBinary, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
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
			t.Logf("nginx error log:\n%s", errlog)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			errlog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited:\n%s\n%s", out, errlog)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(2 * time.Millisecond) // nginx listens within milliseconds
	}
	t.Fatalf("nginx did not listen on %s", addr)
	return ""
}

// freeAddr is a port of 127.0.0.1 free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestGatewayEnviron: what the conformance tests (TestEnviron and the
// others, run through the gateways too) do not look at: nginx's own
// variables pass through.
func TestGatewayEnviron(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		e := getEnviron(t, tg, "GET", "/a%20b?x=1", "")
		if e.str("REQUEST_SCHEME") != "http" || e.str("REQUEST_URI") != "/a%20b?x=1" {
			t.Errorf("REQUEST_SCHEME %q, REQUEST_URI %q", e.str("REQUEST_SCHEME"), e.str("REQUEST_URI"))
		}
		if e.str("DOCUMENT_ROOT") == "" || e.str("REMOTE_PORT") == "" {
			t.Errorf("DOCUMENT_ROOT %q, REMOTE_PORT %q: nginx's variables must pass through", e.str("DOCUMENT_ROOT"), e.str("REMOTE_PORT"))
		}
	}, gatewayModes...)
}

func TestGatewayLargeBody(t *testing.T) {
	body := make([]byte, 9<<20+123)
	rand.Read(body)
	sum := sha256.Sum256(body)
	run(t, "input_hash", Options{}, func(t *testing.T, tg *target) {
		resp, text := tg.do(t, "POST", "/", bytes.NewReader(body), "Content-Type", "application/octet-stream")
		var got struct {
			Length        int    `json:"length"`
			SHA256        string `json:"sha256"`
			ContentLength string `json:"content_length"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(text), &got) != nil {
			t.Fatalf("%s %q\nlog:\n%s", resp.Status, text, tg.log)
		}
		if got.Length != len(body) || got.SHA256 != hex.EncodeToString(sum[:]) || got.ContentLength != fmt.Sprint(len(body)) {
			t.Errorf("the application read %d bytes (CONTENT_LENGTH %s), sha256 %s; sent %d", got.Length, got.ContentLength, got.SHA256, len(body))
		}
	}, gatewayModes...)
}

func TestGatewayStream(t *testing.T) {
	run(t, "stream", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/?40")
		var want strings.Builder
		for i := 0; i < 40; i++ {
			want.WriteString(strings.Repeat(string(rune('A'+i%26)), 1024))
		}
		if resp.StatusCode != 200 || body != want.String() {
			t.Errorf("%s, %d bytes; want 200 and %d bytes", resp.Status, len(body), want.Len())
		}
	}, gatewayModes...)
	run(t, "big_stream", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/?3"); resp.StatusCode != 200 || len(body) != 3<<20 {
			t.Errorf("%s, %d bytes; want 3 MiB", resp.Status, len(body))
		}
	}, gatewayModes...)
}

// TestGatewayStreamChunkByChunk: a generator's chunk reaches the client
// through nginx while the application still runs.
func TestGatewayStreamChunkByChunk(t *testing.T) {
	run(t, "stream_gated", Options{Threads: 2}, func(t *testing.T, tg *target) {
		resp, err := tg.client.Get(tg.url + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		if err != nil || first != "first\n" {
			t.Fatalf("first chunk: %q, %v", first, err)
		}
		// Only now, with "first" read, does the application go on.
		if r, body := tg.get(t, "/open"); r.StatusCode != 200 || body != "open" {
			t.Fatalf("/open: %s %q", r.Status, body)
		}
		if second, _ := br.ReadString('\n'); second != "second\n" {
			t.Errorf("second chunk: %q", second)
		}
	}, gatewayModes...)
}

// TestGatewayKeepAlive: nginx keeps its FastCGI connection (fastcgi_keep_conn)
// for request after request; uwsgi has one connection per request.
func TestGatewayKeepAlive(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		for i := 0; i < 5; i++ {
			e := getEnviron(t, tg, "POST", fmt.Sprintf("/r%d", i), fmt.Sprintf("body %d", i))
			if e.str("PATH_INFO") != fmt.Sprintf("/r%d", i) || e.str("body") != fmt.Sprintf("body %d", i) {
				t.Errorf("request %d: PATH_INFO %q body %q", i, e.str("PATH_INFO"), e.str("body"))
			}
		}
		n := tg.accepted.Load()
		if tg.protocol == "fcgi" && n != 1 {
			t.Errorf("nginx opened %d FastCGI connections for 5 requests, want 1 kept", n)
		}
		if tg.protocol == "uwsgi" && n != 5 {
			t.Errorf("nginx opened %d uwsgi connections for 5 requests, want 5", n)
		}
	}, gatewayModes...)
}
