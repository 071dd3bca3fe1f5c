package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// writeCert writes a certificate for 127.0.0.1 signed by ca (self-signed
// when ca is nil) and its key, as PEM files, and returns them parsed.
func writeCert(t *testing.T, dir, name string, ca *tls.Certificate) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         ca == nil, BasicConstraintsValid: true,
	}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, signer = ca.Leaf, ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cert.Leaf, _ = x509.ParseCertificate(der)
	return certFile, keyFile, cert
}

var listeningTLS = regexp.MustCompile(`Listening at: https://(\S+)`)

// httpsAddr waits for s to listen for HTTPS, and returns its address.
func httpsAddr(t *testing.T, s *testutil.Server) string {
	t.Helper()
	var addr string
	waitFor(t, "the HTTPS listener", func() bool {
		if m := listeningTLS.FindStringSubmatch(s.Log.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	})
	return addr
}

// --certfile and --keyfile serve HTTPS (through net/http): the
// application sees wsgi.url_scheme https; --http-protocols h2,h1 offers
// HTTP/2; --cert-reqs 2 with --ca-certs requires a client certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, _, ca := writeCert(t, dir, "ca", nil)
	certFile, keyFile, _ := writeCert(t, dir, "server", &ca)
	_, _, client := writeCert(t, dir, "client", &ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)

	start := func(args ...string) string {
		t.Helper()
		s := testutil.Launch(t, testutil.Options{}, append(args, "--certfile", certFile, "--keyfile", keyFile,
			"--pythonpath", ".", "conformance:environ")...)
		return "https://" + httpsAddr(t, s) + "/"
	}
	get := func(url string, tr *http.Transport) (*http.Response, map[string]any, error) {
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(url)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		err = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m, err
	}

	url := start()
	resp, env, err := get(url, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}})
	if err != nil || env["wsgi.url_scheme"] != "https" || env["HTTPS"] != "on" || resp.Proto != "HTTP/1.1" {
		t.Errorf("over TLS: %v %v %v", resp, env, err)
	}
	// h1 only by default, as gunicorn: an HTTP/2 client gets HTTP/1.1.
	resp, _, err = get(url, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true})
	if err != nil || resp.Proto != "HTTP/1.1" {
		t.Errorf("an HTTP/2 client, by default: %v %v", resp, err)
	}

	url = start("--http-protocols", "h2,h1")
	resp, env, err = get(url, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true})
	if err != nil || resp.Proto != "HTTP/2.0" || env["wsgi.url_scheme"] != "https" {
		t.Errorf("--http-protocols h2,h1: %v %v %v", resp, env, err)
	}

	url = start("--cert-reqs", "2", "--ca-certs", caFile)
	if _, _, err := get(url, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}); err == nil {
		t.Errorf("--cert-reqs 2: a client without a certificate was served")
	}
	if _, env, err := get(url, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}}}); err != nil || env["wsgi.url_scheme"] != "https" {
		t.Errorf("--cert-reqs 2 with a certificate: %v %v", env, err)
	}

	for _, c := range []struct {
		want string
		args []string
	}{
		{"--certfile", []string{"--certfile", filepath.Join(dir, "missing.crt"), "specs"}},
		{"need --certfile", []string{"--keyfile", keyFile, "specs"}},
		{"HTTP/2 is offered over TLS only", []string{"--http-protocols", "h2", "specs"}},
		{"setting ciphers is not supported", []string{"--ciphers", "ECDHE", "specs"}},
	} {
		refused(t, testutil.Options{}, c.want, c.args...)
	}
}

// --max-connections bounds the TLS connections a worker holds: with 1,
// a second client's handshake waits until the first connection closes.
func TestTLSMaxConnections(t *testing.T) {
	dir := t.TempDir()
	_, _, ca := writeCert(t, dir, "ca", nil)
	certFile, keyFile, _ := writeCert(t, dir, "server", &ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	s := testutil.Launch(t, testutil.Options{}, "--max-connections", "1", "--keep-alive", "60",
		"--certfile", certFile, "--keyfile", keyFile, "--pythonpath", ".", "conformance:environ")
	addr := httpsAddr(t, s)
	conf := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	handshake := func(wait time.Duration) (*tls.Conn, error) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(wait))
		c := tls.Client(raw, conf)
		if err := c.Handshake(); err != nil {
			raw.Close()
			return nil, err
		}
		raw.SetDeadline(time.Time{})
		return c, nil
	}
	first, err := handshake(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(time.Second); err == nil {
		t.Fatal("a second connection was served beside the first with --max-connections 1")
	}
	first.Close()
	third, err := handshake(30 * time.Second)
	if err != nil {
		t.Fatalf("once the first closed: %v", err)
	}
	third.Close()
}
