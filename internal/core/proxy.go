package core

// #include "gowsgi.h"
import "C"

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/gowsgi/gowsgi/internal/allow"
	"github.com/gowsgi/gowsgi/internal/h1"
)

// Trusted proxies, as gunicorn trusts them by default: a front end on the
// same host (nginx terminating TLS) says the client came over HTTPS with
// X-Forwarded-Proto: https, and the application then builds https URLs.
// Only peers in Options.ForwardedAllowIPs are believed; from them the
// first of Options.SecureSchemeHeaders present decides wsgi.url_scheme
// (and sets HTTPS=on), and another one present that disagrees makes the
// request a 400. From any other peer the headers change nothing (they stay
// in the environ as HTTP_X_FORWARDED_PROTO and so on, as under gunicorn).

// proxyTrust is an App's parsed trust in front ends.
type proxyTrust struct {
	peers   allow.List
	headers []schemeHeader
}

type schemeHeader struct {
	name   string // lower case: names are compared ignoring case
	secure string // the value that means HTTPS, compared exactly
}

func newProxyTrust(o *Options) (*proxyTrust, error) {
	// nil is nobody here: the public API puts its defaults in.
	peers, err := allow.ParseAll(o.ForwardedAllowIPs)
	if err != nil {
		return nil, fmt.Errorf("gowsgi: ForwardedAllowIPs: %w", err)
	}
	p := &proxyTrust{peers: peers}
	for name, secure := range o.SecureSchemeHeaders {
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			return nil, fmt.Errorf("gowsgi: SecureSchemeHeaders: %q is not a header name", name)
		}
		p.headers = append(p.headers, schemeHeader{name: strings.ToLower(name), secure: secure})
	}
	return p, nil
}

// decide gives the scheme the headers ask for: found is false when none of
// them is present, ok false when two of them disagree. Each header line
// counts, in order, as gunicorn reads them.
func (p *proxyTrust) decide(each func(yield func(name, value string) bool)) (https, found, ok bool) {
	ok = true
	each(func(name, value string) bool {
		for _, h := range p.headers {
			if !strings.EqualFold(name, h.name) {
				continue
			}
			secure := value == h.secure
			if found && secure != https {
				ok = false
				return false
			}
			https, found = secure, true
		}
		return true
	})
	return https, found, ok
}

// engineScheme decides the scheme of a request the HTTP/1.1 engine parsed
// from peer: tls unless a trusted front end says otherwise. ok is false
// for conflicting scheme headers (400).
func (p *proxyTrust) engineScheme(fields []h1.Field, peer string, tls bool) (https, ok bool) {
	if len(p.headers) == 0 || !p.anyHeader(fields) || !p.peers.Allows(peer) {
		return tls, true
	}
	https, found, ok := p.decide(func(yield func(string, string) bool) {
		for i := range fields {
			if !yield(string(fields[i].Name), string(fields[i].Value)) {
				return
			}
		}
	})
	if !found {
		return tls, ok
	}
	return https, ok
}

// anyHeader tells cheaply whether a scheme header is among fields: most
// requests have none, and cost no more.
func (p *proxyTrust) anyHeader(fields []h1.Field) bool {
	for i := range fields {
		for _, h := range p.headers {
			if h1.EqualFold(fields[i].Name, h.name) {
				return true
			}
		}
	}
	return false
}

// httpScheme decides the scheme of a request that came through net/http
// from the peer at ip.
func (p *proxyTrust) httpScheme(hr *http.Request, ip string) (https, ok bool) {
	tls := hr.TLS != nil
	if len(p.headers) == 0 {
		return tls, true
	}
	present := false
	for _, h := range p.headers {
		if _, ok := hr.Header[http.CanonicalHeaderKey(h.name)]; ok {
			present = true
		}
	}
	if !present || !p.peers.Allows(ip) {
		return tls, true
	}
	https, found, ok := p.decide(func(yield func(string, string) bool) {
		for name, values := range hr.Header {
			for _, v := range values {
				if !yield(name, v) {
					return
				}
			}
		}
	})
	if !found {
		return tls, ok
	}
	return https, ok
}

// peerIP is the IP address of a net/http RemoteAddr; "" for a peer
// without one (a Unix socket), which is trusted as gunicorn trusts it.
func peerIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return ""
	}
	return host
}

// setScheme sets wsgi.url_scheme and, for https, HTTPS=on.
func setScheme(r *Request, https bool) {
	if https {
		r.c.in_flags |= C.GW_IN_HTTPS
		setVar(r, C.GW_K_HTTPS, "on")
	}
}
