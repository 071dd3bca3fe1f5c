package gowsgi

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The PROXY headers the tests send: a client 203.0.113.7:56324 that
// connected to 198.51.100.1:443 (version 1), and [2001:db8::7]:4711 that
// connected to [2001:db8::1]:8443 (version 2, with an extension).
var (
	proxyV1    = "PROXY TCP4 203.0.113.7 198.51.100.1 56324 443\r\n"
	proxyV2    = string(proxyV2Header("2001:db8::7", 4711, "2001:db8::1", 8443))
	proxyLocal = "\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
)

func proxyV2Header(src string, sport uint16, dst string, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	body := append(append([]byte{}, s[:]...), d[:]...)
	body = binary.BigEndian.AppendUint16(body, sport)
	body = binary.BigEndian.AppendUint16(body, dport)
	body = append(body, 0x05, 0x00, 0x04, 'v', 'p', 'c', 'e') // an extension, skipped
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x21")
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// proxyExchange sends first (a PROXY header, or nothing) on a new
// connection to addr, in pieces of step bytes (0: at once), then a GET of
// each of headers (one request each, kept alive), and returns the
// environs of the answers; or the status line and body of an answer that
// is not a 200, and whether the connection was closed after it.
func proxyExchange(t *testing.T, addr, first string, step int, headers ...string) (envs []environ, refused string, closed bool) {
	t.Helper()
	c := dial(t, addr)
	for b := []byte(first); len(b) > 0; {
		n := len(b)
		if step > 0 {
			n = min(step, n)
		}
		if _, err := c.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
		if step > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if len(headers) == 0 {
		headers = []string{""}
	}
	r := bufio.NewReader(c)
	for _, h := range headers {
		if _, err := io.WriteString(c, "GET /e HTTP/1.1\r\nHost: h\r\n"+h+"\r\n"); err != nil {
			return envs, "write: " + err.Error(), true
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return envs, "read: " + err.Error(), true
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			_, err := r.ReadByte()
			return envs, resp.Status + ": " + string(body), err != nil
		}
		var e environ
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%v: %q", err, body)
		}
		envs = append(envs, e)
	}
	return envs, "", false
}

// proxyServe serves conformance:environ with the engine (PROXY settings
// as given) and with net/http over ProxyProtocolListener; the App's own
// options from opts.
func proxyServe(t *testing.T, opts Options, mode string, allowFrom []string) map[string]string {
	t.Helper()
	opts.App = "conformance:environ"
	app, _, _ := newApp(t, opts)
	addrs := map[string]string{}
	addrs["engine"] = serveEngine(t, app, func(s *Server) { s.ProxyProtocol, s.ProxyAllowFrom = mode, allowFrom })
	ln, err := ProxyProtocolListener(listenLocal(t), mode, allowFrom, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: app}
	serveUntilCleanup(t, hs, ln)
	addrs["nethttp"] = ln.Addr().String()
	return addrs
}

func wantEnviron(t *testing.T, e environ, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, present := e[k]
		if v == "(absent)" {
			if present {
				t.Errorf("%s = %v, want it absent", k, got)
			}
			continue
		}
		if e.str(k) != v {
			t.Errorf("%s = %v, want %q", k, got, v)
		}
	}
}

// With --proxy-protocol a connection's PROXY header, of either version,
// in one piece or byte by byte, makes its client REMOTE_ADDR for every
// request on it, with gunicorn's PROXY_* variables; a connection without
// one, or with a LOCAL one (a health check), keeps its own address. The
// same through the engine and through net/http (the TLS path).
func TestProxyProtocolHeader(t *testing.T) {
	addrs := proxyServe(t, Options{}, "auto", nil)
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) {
			for _, step := range []int{0, 1} {
				envs, refused, _ := proxyExchange(t, addr, proxyV1, step, "", "")
				if refused != "" || len(envs) != 2 {
					t.Fatalf("v1: %s", refused)
				}
				for _, e := range envs {
					wantEnviron(t, e, map[string]string{"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "56324",
						"PROXY_PROTOCOL": "TCP4", "PROXY_ADDR": "198.51.100.1", "PROXY_PORT": "443"})
				}
				envs, refused, _ = proxyExchange(t, addr, proxyV2, step, "")
				if refused != "" {
					t.Fatalf("v2: %s", refused)
				}
				wantEnviron(t, envs[0], map[string]string{"REMOTE_ADDR": "2001:db8::7", "REMOTE_PORT": "4711",
					"PROXY_PROTOCOL": "TCP6", "PROXY_ADDR": "2001:db8::1", "PROXY_PORT": "8443"})
			}
			for first, protocol := range map[string]string{"": "(absent)", proxyLocal: "LOCAL", "PROXY UNKNOWN\r\n": "UNKNOWN"} {
				envs, refused, _ := proxyExchange(t, addr, first, 0, "")
				if refused != "" {
					t.Fatalf("%q: %s", first, refused)
				}
				wantEnviron(t, envs[0], map[string]string{"REMOTE_ADDR": "127.0.0.1", "PROXY_PROTOCOL": protocol, "PROXY_ADDR": "(absent)"})
			}
		})
	}
}

// A malformed header, one of a version the mode does not read, and one
// from a peer that may not send one are refused and the connection
// closed (the engine answers 400, or 403 for the peer; net/http, where the
// header comes before TLS, closes); that peer without a header is served.
func TestProxyProtocolRefused(t *testing.T) {
	for _, c := range []struct {
		name, mode string
		allow      []string
		first      string
		status     string // the engine's answer
	}{
		{"bare LF", "auto", nil, "PROXY TCP4 203.0.113.7 198.51.100.1 56324 443\n", "400"},
		{"bad port", "auto", nil, "PROXY TCP4 203.0.113.7 198.51.100.1 56324 99999\r\n", "400"},
		{"too long", "auto", nil, "PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n", "400"},
		{"v2 too long", "auto", nil, "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x1f\x40", "400"}, // 8,000 bytes declared: refused before they come
		{"v2 UDP", "auto", nil, "\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + strings.Repeat("\x01", 12), "400"},
		{"v2 to v1", "v1", nil, proxyV2, "400"},
		{"v1 to v2", "v2", nil, proxyV1, "400"},
		{"not allowed", "auto", []string{"10.0.0.0/8"}, proxyV1, "403"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for name, addr := range proxyServe(t, Options{}, c.mode, c.allow) {
				envs, refused, closed := proxyExchange(t, addr, c.first, 0, "", "")
				if len(envs) != 0 || !closed {
					t.Errorf("%s: %d answered, closed %v (%s)", name, len(envs), closed, refused)
				}
				if name == "engine" && !strings.HasPrefix(refused, c.status) {
					t.Errorf("engine: %q, want %s", refused, c.status)
				}
				if c.allow != nil {
					envs, refused, _ := proxyExchange(t, addr, "", 0, "")
					if refused != "" {
						t.Fatalf("%s, no header: %s", name, refused)
					}
					wantEnviron(t, envs[0], map[string]string{"REMOTE_ADDR": "127.0.0.1"})
				}
			}
		})
	}
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	for _, s := range []*Server{{App: app, ProxyProtocol: "v3"}, {App: app, ProxyProtocol: "v1", ProxyAllowFrom: []string{"10.0.0.1/8"}}} {
		if err := s.Serve(listenLocal(t)); err == nil || err == ErrServerClosed {
			t.Errorf("%q %q: Serve %v", s.ProxyProtocol, s.ProxyAllowFrom, err)
		}
	}
}

// Trust in X-Forwarded-Proto is judged by the proxy that sent the PROXY
// header (127.0.0.1 here, trusted by default), not by the client it
// names, as gunicorn does.
func TestProxyProtocolTrust(t *testing.T) {
	for _, c := range []struct {
		trusted []string
		scheme  string
	}{{nil, "https"}, {[]string{"203.0.113.7"}, "http"}} {
		for name, addr := range proxyServe(t, Options{ForwardedAllowIPs: c.trusted}, "auto", nil) {
			envs, refused, _ := proxyExchange(t, addr, proxyV1, 0, "X-Forwarded-Proto: https\r\n")
			if refused != "" {
				t.Fatalf("%s: %s", name, refused)
			}
			wantEnviron(t, envs[0], map[string]string{"wsgi.url_scheme": c.scheme, "REMOTE_ADDR": "203.0.113.7"})
		}
	}
}

// A peer that sends the start of a header and stops holds its connection
// only until the head's timeout.
func TestProxyProtocolSlowHeader(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ"})
	addr := serveEngine(t, app, func(s *Server) { s.ProxyProtocol, s.HeaderTimeout = "auto", 300*time.Millisecond })
	ln, err := ProxyProtocolListener(listenLocal(t), "auto", nil, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	serveUntilCleanup(t, &http.Server{Handler: app}, ln)
	for _, a := range []string{addr, ln.Addr().String()} {
		c := dial(t, a)
		io.WriteString(c, "PROXY TCP4 203.0.113.7")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if b, err := io.ReadAll(c); err != nil && !isReset(err) {
			t.Errorf("%s: %q, %v: want the connection closed by the server", a, b, err)
		}
	}
}
