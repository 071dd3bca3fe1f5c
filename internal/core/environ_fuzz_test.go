package core

import (
	"io"
	"log/slog"
	"testing"

	"github.com/gowsgi/gowsgi/internal/uwsgi"
)

// FuzzEnvironFromCGI builds the environ of arbitrary CGI variables (a
// uwsgi variables block, the framing of the gateways): never a panic
// (which EnvironFromCGI would turn into a 500), only the statuses it
// documents, and every header variable joined as a naive reference joins
// it.
func FuzzEnvironFromCGI(f *testing.F) {
	block := func(kv ...string) []byte {
		var b []byte
		for i := 0; i+1 < len(kv); i += 2 {
			b = uwsgi.AppendVar(b, kv[i], kv[i+1])
		}
		return b
	}
	var nginx []string
	for _, v := range nginxVars {
		nginx = append(nginx, string(v[0]), string(v[1]))
	}
	f.Add(block(nginx...), uint8(100))
	f.Add(block("REQUEST_METHOD", "GET", "PATH_INFO", "/", "HTTP_COOKIE", "a", "HTTP_X", "1", "HTTP_COOKIE", "b", "HTTP_X", "2"), uint8(3))
	f.Add(block("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "-1"), uint8(0))
	f.Add(block("REQUEST_METHOD", "GET", "SCRIPT_NAME", "", "PATH_INFO", "/x", "HTTP_HOST", "[::1]:8", "HTTPS", "on", "wsgi.input", "x"), uint8(1))
	opts := Options{}
	opts.setDefaults()
	a := &App{opts: opts, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a.proxy, _ = newProxyTrust(&a.opts)
	r := newRequest(a)
	f.Cleanup(r.destroy)
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		vars, err := uwsgi.ParseVars(data, nil)
		if err != nil {
			return
		}
		r.recycle()
		status, length := r.EnvironFromCGI(vars, Peer{LocalName: "l", LocalPort: "1"}, int(limit))
		switch status {
		case 0, 400, 404, 431:
		default:
			t.Fatalf("%q: status %d", vars, status)
		}
		if status != 0 {
			return
		}
		if length < BodyAbsent {
			t.Fatalf("%q: length %d", vars, length)
		}
		// The reference: each header variable's values in order.
		joined := map[string][]byte{}
		for _, v := range vars {
			name := string(v[0])
			if !isHeaderVar(v[0]) || hasDot(v[0]) || name == "HTTP_CONTENT_TYPE" || name == "HTTP_CONTENT_LENGTH" {
				continue
			}
			if prev, ok := joined[name]; ok {
				joined[name] = append(append(prev, separator(name == "HTTP_COOKIE")...), v[1]...)
			} else {
				joined[name] = append([]byte(nil), v[1]...)
			}
		}
		for name, want := range joined {
			if got := r.envNamed(name); string(got) != string(want) {
				t.Fatalf("%q: %s is %q, want %q", vars, name, got, want)
			}
		}
	})
}
