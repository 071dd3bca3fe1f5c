package gowsgi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// A front end on this host (the tests' client is 127.0.0.1, trusted by
// default) says the client came over HTTPS: wsgi.url_scheme is https and
// HTTPS is on, through both HTTP front ends; headers that disagree are a
// 400; without them nothing changes.
func TestTrustedProxyScheme(t *testing.T) {
	run(t, "environ", Options{}, func(t *testing.T, tg *target) {
		for _, c := range []struct {
			header []string
			scheme string
		}{
			{nil, "http"},
			{[]string{"X-Forwarded-Proto", "https"}, "https"},
			{[]string{"X-Forwarded-Proto", "http"}, "http"},
			{[]string{"X-Forwarded-Ssl", "on"}, "https"},
			{[]string{"X-Forwarded-Protocol", "ssl"}, "https"},
			{[]string{"x-forwarded-proto", "https", "X-Forwarded-Ssl", "on"}, "https"},
			{[]string{"X-Forwarded-Proto", "HTTPS"}, "http"}, // values compare exactly, as gunicorn's
		} {
			e := getEnviron(t, tg, "GET", "/", "", c.header...)
			if e.str("wsgi.url_scheme") != c.scheme {
				t.Errorf("%v: wsgi.url_scheme %q, want %q", c.header, e.str("wsgi.url_scheme"), c.scheme)
			}
			if https := e.str("HTTPS") == "on"; https != (c.scheme == "https") {
				t.Errorf("%v: HTTPS=%q", c.header, e.str("HTTPS"))
			}
		}
		for _, conflict := range [][]string{
			{"X-Forwarded-Proto", "https", "X-Forwarded-Ssl", "off"},
			{"X-Forwarded-Proto", "https", "X-Forwarded-Proto", "http"},
		} {
			resp, body := tg.do(t, "GET", "/", nil, conflict...)
			if resp.StatusCode != 400 {
				t.Errorf("%v: %d %q, want 400", conflict, resp.StatusCode, body)
			}
		}
	}, httpModes...)
}

// From a peer not in ForwardedAllowIPs the headers change nothing (they
// stay in the environ); "*" trusts any peer; SecureSchemeHeaders replaces
// the headers believed.
func TestTrustedProxyOptions(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   Options
		header []string
		scheme string
	}{
		{"untrusted", Options{ForwardedAllowIPs: []string{"10.0.0.0/8", "192.0.2.7"}}, []string{"X-Forwarded-Proto", "https"}, "http"},
		{"nobody", Options{ForwardedAllowIPs: []string{}}, []string{"X-Forwarded-Proto", "https"}, "http"},
		{"any", Options{ForwardedAllowIPs: []string{"*"}}, []string{"X-Forwarded-Proto", "https"}, "https"},
		{"network", Options{ForwardedAllowIPs: []string{"127.0.0.0/8"}}, []string{"X-Forwarded-Proto", "https"}, "https"},
		{"own header", Options{SecureSchemeHeaders: map[string]string{"X-Scheme": "https"}}, []string{"X-Scheme", "https"}, "https"},
		{"own header only", Options{SecureSchemeHeaders: map[string]string{"X-Scheme": "https"}}, []string{"X-Forwarded-Proto", "https"}, "http"},
		{"no headers", Options{SecureSchemeHeaders: map[string]string{}}, []string{"X-Forwarded-Proto", "https"}, "http"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			opts.App = "conformance:environ"
			for _, v := range []variant{{engine: true}, {}} {
				tg := serve(t, v, opts)
				e := getEnviron(t, tg, "GET", "/", "", c.header...)
				if e.str("wsgi.url_scheme") != c.scheme {
					t.Errorf("%s: wsgi.url_scheme %q, want %q", tg.name, e.str("wsgi.url_scheme"), c.scheme)
				}
				if c.scheme == "http" && e.str("HTTP_"+strings.ToUpper(strings.ReplaceAll(c.header[0], "-", "_"))) != c.header[1] {
					t.Errorf("%s: the header itself should stay in the environ: %v", tg.name, e)
				}
			}
		})
	}
}

// A bad list of trusted peers is an error of New, as gunicorn's strict
// parsing makes it one (a network with host bits set is a mistake).
func TestTrustedProxyBadList(t *testing.T) {
	for _, ips := range [][]string{{"127.0.0.1/8"}, {"not-an-ip"}, {"10.0.0.0/33"}} {
		_, err := New(Options{App: "conformance:environ", ForwardedAllowIPs: ips})
		if err == nil || !strings.Contains(err.Error(), "ForwardedAllowIPs") {
			t.Errorf("%v: %v, want an error naming ForwardedAllowIPs", ips, err)
		}
	}
}

// Environ, which builds what ServeHTTP would, follows the same trust: the
// default one, as an App's.
func TestEnvironTrustedProxy(t *testing.T) {
	hr := httptest.NewRequest("GET", "http://example.com/p", nil)
	hr.RemoteAddr = "127.0.0.1:5000"
	hr.Header.Set("X-Forwarded-Proto", "https")
	env, err := Environ(hr, "")
	if err != nil || env["wsgi.url_scheme"] != "https" || env["HTTPS"] != "on" || env["SERVER_PORT"] != "443" {
		t.Errorf("trusted: %v %v", env, err)
	}
	hr.RemoteAddr = "203.0.113.9:5000"
	if env, _ = Environ(hr, ""); env["wsgi.url_scheme"] != "http" || env["SERVER_PORT"] != "80" {
		t.Errorf("untrusted: %v", env)
	}
	hr.RemoteAddr = "127.0.0.1:5000"
	hr.Header.Add("X-Forwarded-Ssl", "off")
	if _, err = Environ(hr, ""); !errors.Is(err, ErrSchemeHeaders) {
		t.Errorf("conflict: %v, want ErrSchemeHeaders", err)
	}
}
