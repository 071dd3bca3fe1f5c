package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// proxiedGet sends header, then a GET over plain HTTP or, with tlsConf,
// over TLS begun after the header, and returns the environ answered.
func proxiedGet(t *testing.T, addr, header string, tlsConf *tls.Config) map[string]any {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(raw, header); err != nil {
		t.Fatal(err)
	}
	c := raw
	if tlsConf != nil {
		c = tls.Client(raw, tlsConf)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatalf("after the PROXY header: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("after the PROXY header: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", resp.Status, err)
	}
	return m
}

// --proxy-protocol (alone: auto) on a plain HTTP socket, v2 before TLS
// with --certfile, and gunicorn's proxy_protocol = True in a
// gunicorn.conf.py: REMOTE_ADDR is the client the header names.
func TestProxyProtocolFlag(t *testing.T) {
	v1 := "PROXY TCP4 203.0.113.7 198.51.100.1 56324 443\r\n"
	s := testutil.Start(t, testutil.Options{}, "--proxy-protocol", "--pythonpath", ".", "conformance:environ")
	if m := proxiedGet(t, s.Addr, v1, nil); m["REMOTE_ADDR"] != "203.0.113.7" || m["PROXY_PROTOCOL"] != "TCP4" {
		t.Errorf("--proxy-protocol: %v", m)
	}
	// curl's own PROXY header (version 1, its connection's addresses).
	out, err := exec.Command("curl", "-sS", "--max-time", "30", "--haproxy-protocol", s.URL+"/").Output()
	var m map[string]any
	if err != nil || json.Unmarshal(out, &m) != nil || m["PROXY_PROTOCOL"] != "TCP4" || m["PROXY_ADDR"] != "127.0.0.1" {
		t.Errorf("curl --haproxy-protocol: %v %q", err, out)
	}

	dir := t.TempDir()
	_, _, ca := writeCert(t, dir, "ca", nil)
	certFile, keyFile, _ := writeCert(t, dir, "server", &ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	tlsServer := testutil.Launch(t, testutil.Options{}, "--proxy-protocol=v2", "--certfile", certFile, "--keyfile", keyFile,
		"--pythonpath", ".", "conformance:environ")
	addr := httpsAddr(t, tlsServer)
	v2 := "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x09\xc6\x33\x64\x01\x12\x67\x01\xbb" // 203.0.113.9:4711 -> 198.51.100.1:443
	m = proxiedGet(t, addr, v2, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if m["REMOTE_ADDR"] != "203.0.113.9" || m["REMOTE_PORT"] != "4711" || m["wsgi.url_scheme"] != "https" || m["PROXY_PORT"] != "443" {
		t.Errorf("--proxy-protocol=v2 with TLS: %v", m)
	}
	// A malformed header over TLS: no HTTP can answer yet, so the
	// connection is closed and the log says why.
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(bad, "\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x00")
	if b, err := io.ReadAll(bad); len(b) != 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
		t.Errorf("a malformed header over TLS: %q %v", b, err)
	}
	waitFor(t, "the log line of the malformed header", func() bool {
		return strings.Contains(tlsServer.Log.String(), "proxy protocol: version 2 transport 2")
	})

	conf := t.TempDir()
	writeFile(t, filepath.Join(conf, "gunicorn.conf.py"), `import sys
proxy_protocol = True
proxy_allow_ips = ['127.0.0.0/8']
wsgi_app = 'conformance:environ'
def pre_request(worker, req):
    print("proxy_protocol_info", sorted(req.proxy_protocol_info.items()), file=sys.stderr, flush=True)
`)
	s = testutil.Start(t, testutil.Options{Dir: conf}, "--pythonpath", testutil.Testdata())
	if m := proxiedGet(t, s.Addr, v1, nil); m["REMOTE_ADDR"] != "203.0.113.7" {
		t.Errorf("proxy_protocol = True: %v", m)
	}
	info := "proxy_protocol_info [('client_addr', '203.0.113.7'), ('client_port', 56324), ('proxy_addr', '198.51.100.1'), " +
		"('proxy_port', 443), ('proxy_protocol', 'TCP4')]"
	waitFor(t, "pre_request's req.proxy_protocol_info", func() bool { return strings.Contains(s.Log.String(), info) })
	refused(t, testutil.Options{}, "--proxy-protocol", "--proxy-protocol=v3", "specs")
	refused(t, testutil.Options{}, "--proxy-allow-from", "--proxy-protocol", "--proxy-allow-from", "10.0.0.1/8", "specs")
}
