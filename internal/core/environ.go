package core

// #include "gowsgi.h"
import "C"

import (
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/h1"
)

// The environ of every front end is built here, the same way: from a
// request head the engine parsed (EnvironFromH1), from net/http's request
// (EnvironFromHTTP), from a front server's CGI variables (EnvironFromCGI).
//
// One rule for a request header that comes more than once, whatever
// brought it: the application sees it once, its values joined in their
// order with ", " (RFC 9110 5.3), with "; " for Cookie (RFC 6265 5.4).
// Content-Type is no exception. Host comes once (a second one is a 400 in
// both HTTP parsers).

// separator is what joins the values of a repeated header.
func separator(cookie bool) string {
	if cookie {
		return "; "
	}
	return ", "
}

// Peer is what a front end knows of the connection's two ends, for the
// variables the request itself does not give: REMOTE_ADDR and
// REMOTE_PORT (empty on a Unix socket), and the listening address for
// SERVER_NAME and SERVER_PORT when there is no Host.
type Peer struct {
	RemoteIP, RemotePort string
	LocalName, LocalPort string
	Proxied              *Proxied // what a PROXY header said (nil: none; see TakeProxyHeader)
}

// EnvironFromH1 fills the environ of a request head the engine parsed. It
// returns 0, or the status to answer instead of running the application:
// 400 for a path that does not decode or trusted scheme headers that
// disagree, 404 for a path outside the mount prefix.
func (r *Request) EnvironFromH1(hreq *h1.Request, peer *Peer) int {
	defer AfterEnviron.run(r)
	r.isHead = string(hreq.Method) == "HEAD"
	setVar(r, C.GW_K_REQUEST_METHOD, hreq.Method)
	var ok bool
	if r.pathBuf, ok = h1.AppendUnescaped(r.pathBuf[:0], hreq.Path); !ok {
		return 400
	}
	if !setPath(r, r.pathBuf) {
		return 404
	}
	setVar(r, C.GW_K_QUERY_STRING, hreq.Query)
	setVar(r, C.GW_K_REQUEST_URI, hreq.Target)
	setVar(r, C.GW_K_RAW_URI, hreq.Target)
	setVar(r, C.GW_K_SERVER_PROTOCOL, hreq.Proto)
	setVar(r, C.GW_K_REMOTE_ADDR, peer.RemoteIP)
	setVar(r, C.GW_K_REMOTE_PORT, peer.RemotePort)
	setProxied(r, peer.Proxied)
	https, ok := r.app.proxy.engineScheme(hreq.Fields, peer.trustedIP(), false)
	if !ok {
		return 400 // trusted scheme headers that disagree (proxy.go)
	}
	setScheme(r, https)
	setServer(r, hreq.Host, peer.LocalName, peer.LocalPort, https)
	if hreq.Host != nil {
		setVar(r, C.GW_K_HTTP_HOST, hreq.Host)
	}
	fields := hreq.Fields
	rp := &r.repeats
	rp.linkFields(fields)
	defer rp.release()
	for i := range fields {
		name := fields[i].Name
		// Host is set above; the body's framing is the server's business:
		// the application sees the decoded body and its CONTENT_LENGTH.
		if rp.repeated(i) || h1.EqualFold(name, "host") || h1.EqualFold(name, "content-length") ||
			h1.EqualFold(name, "transfer-encoding") {
			continue
		}
		value := fields[i].Value
		if j := rp.next(i); j > 0 {
			sep := separator(h1.EqualFold(name, "cookie"))
			r.joined = append(r.joined[:0], value...)
			for ; j > 0; j = rp.next(j) {
				r.joined = append(append(r.joined, sep...), fields[j].Value...)
			}
			value = r.joined
		}
		if h1.EqualFold(name, "content-type") {
			setVar(r, C.GW_K_CONTENT_TYPE, value)
		} else {
			setHeader(r, name, value)
		}
	}
	return 0
}

// EnvironFromHTTP fills the environ from a net/http request. It returns 0,
// or the status to answer instead: 404 for a path outside the mount
// prefix, 400 for scheme headers that disagree.
func (r *Request) EnvironFromHTTP(hr *http.Request) int {
	defer AfterEnviron.run(r)
	r.isHead = hr.Method == http.MethodHead
	setVar(r, C.GW_K_REQUEST_METHOD, hr.Method)
	if !setPath(r, hr.URL.Path) {
		return http.StatusNotFound
	}
	setVar(r, C.GW_K_QUERY_STRING, hr.URL.RawQuery)
	setVar(r, C.GW_K_REQUEST_URI, hr.RequestURI)
	setVar(r, C.GW_K_RAW_URI, hr.RequestURI)
	setVar(r, C.GW_K_SERVER_PROTOCOL, hr.Proto)
	setRemote(r, hr.RemoteAddr)
	proxied, local := httpProxied(hr)
	setProxied(r, proxied)
	trusted := peerIP(hr.RemoteAddr)
	if proxied != nil {
		trusted = proxied.ProxyIP
	}
	https, ok := r.app.proxy.httpScheme(hr, trusted)
	if !ok {
		return http.StatusBadRequest // trusted scheme headers that disagree (proxy.go)
	}
	setScheme(r, https)
	localName, localPort := "", ""
	if local == nil {
		local, _ = hr.Context().Value(http.LocalAddrContextKey).(net.Addr)
	}
	if local != nil {
		localName, localPort = SplitHostPort(local.String())
	}
	setServer(r, hr.Host, localName, localPort, https)
	if hr.Host != "" {
		setVar(r, C.GW_K_HTTP_HOST, hr.Host)
	}
	for name, values := range hr.Header {
		value := values[0]
		if len(values) > 1 {
			value = strings.Join(values, separator(name == "Cookie"))
		}
		switch name {
		case "Content-Type":
			setVar(r, C.GW_K_CONTENT_TYPE, value)
		case "Content-Length":
			// CONTENT_LENGTH comes from setBody, which knows the body.
		default:
			setHeader(r, name, value)
		}
	}
	return 0
}

// Helpers every front end uses to fill the environ the same way.

// setPath sets SCRIPT_NAME and PATH_INFO from the percent-decoded path. It
// reports false when the path lies outside the mount prefix.
func setPath[T ~string | ~[]byte](r *Request, path T) bool {
	prefix := r.app.opts.ScriptName
	if len(prefix) > 0 {
		if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix ||
			(len(path) > len(prefix) && path[len(prefix)] != '/') {
			return false
		}
		path = path[len(prefix):]
	}
	setVar(r, C.GW_K_SCRIPT_NAME, prefix)
	setVar(r, C.GW_K_PATH_INFO, path)
	return true
}

// setServer sets SERVER_NAME and SERVER_PORT from the Host header, or from
// the listening address when the request has none (HTTP/1.0).
func setServer[T ~string | ~[]byte](r *Request, host T, localName, localPort string, https bool) {
	if len(host) == 0 {
		setVar(r, C.GW_K_SERVER_NAME, localName)
		setVar(r, C.GW_K_SERVER_PORT, localPort)
		return
	}
	name, port := SplitHostPort(host)
	if len(port) == 0 {
		if https {
			setVar(r, C.GW_K_SERVER_PORT, "443")
		} else {
			setVar(r, C.GW_K_SERVER_PORT, "80")
		}
	} else {
		setVar(r, C.GW_K_SERVER_PORT, port)
	}
	setVar(r, C.GW_K_SERVER_NAME, name)
}

// SplitHostPort splits "name:port", "[v6]:port", "name" or "[v6]". IPv6
// names keep their brackets, so that PEP 3333's URL reconstruction yields a
// valid URL.
func SplitHostPort[T ~string | ~[]byte](host T) (name, port T) {
	if len(host) > 0 && host[0] == '[' {
		for i := 0; i < len(host); i++ {
			if host[i] == ']' {
				if i+1 < len(host) && host[i+1] == ':' {
					return host[:i+1], host[i+2:]
				}
				return host[:i+1], host[len(host):]
			}
		}
		return host, host[len(host):]
	}
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			return host[:i], host[i+1:]
		}
	}
	return host, host[len(host):]
}

// SplitRemote splits a peer's "ip:port" or "[v6]:port" into REMOTE_ADDR
// (without brackets, as CGI has it) and REMOTE_PORT.
func SplitRemote(addr string) (ip, port string) {
	ip, port = SplitHostPort(addr)
	if len(ip) > 1 && ip[0] == '[' {
		ip = ip[1 : len(ip)-1]
	}
	return ip, port
}

// setRemote sets REMOTE_ADDR and REMOTE_PORT from "ip:port".
func setRemote(r *Request, addr string) {
	ip, port := SplitRemote(addr)
	setVar(r, C.GW_K_REMOTE_ADDR, ip)
	setVar(r, C.GW_K_REMOTE_PORT, port)
}

// envValue is the value of a known environ key of the current request, nil
// if the request has none.
func (r *Request) envValue(key int32) []byte {
	for i := 0; i < int(r.c.nentries); i++ {
		if e := &r.entries[i]; int32(e.key) == key {
			return r.arena[e.val_off : e.val_off+e.val_len]
		}
	}
	return nil
}

// envNamed is the value of any environ name of the current request.
func (r *Request) envNamed(name string) []byte {
	if k, ok := knownKeys[name]; ok {
		return r.envValue(k)
	}
	for i := 0; i < int(r.c.nentries); i++ {
		e := &r.entries[i]
		if e.key < 0 && string(r.arena[e.name_off:e.name_off+e.name_len]) == name {
			return r.arena[e.val_off : e.val_off+e.val_len]
		}
	}
	return nil
}

// describe names the request in log lines: "GET /path?query". A front
// server's variables may come without REQUEST_URI, or hold it under its
// name only: the path is then rebuilt from SCRIPT_NAME, PATH_INFO and
// QUERY_STRING.
func (r *Request) describe() string {
	method := r.envAny(C.GW_K_REQUEST_METHOD, "REQUEST_METHOD")
	uri := r.envAny(C.GW_K_REQUEST_URI, "REQUEST_URI")
	if len(uri) == 0 {
		uri = append(append([]byte(nil), r.envAny(C.GW_K_SCRIPT_NAME, "SCRIPT_NAME")...), r.envAny(C.GW_K_PATH_INFO, "PATH_INFO")...)
		if q := r.envAny(C.GW_K_QUERY_STRING, "QUERY_STRING"); len(q) > 0 {
			uri = append(append(uri, '?'), q...)
		}
	}
	return string(method) + " " + string(uri)
}

// envAny is the value of a known key, found by its key or by its name.
func (r *Request) envAny(key int32, name string) []byte {
	if v := r.envValue(key); v != nil {
		return v
	}
	for i := 0; i < int(r.c.nentries); i++ {
		e := &r.entries[i]
		if e.key < 0 && string(r.arena[e.name_off:e.name_off+e.name_len]) == name {
			return r.arena[e.val_off : e.val_off+e.val_len]
		}
	}
	return nil
}

// EnvironFromCGI fills the environ from the variables of a front server:
// every variable passes unchanged except
//
//   - CONTENT_TYPE and CONTENT_LENGTH, set only when not empty
//     (CONTENT_LENGTH by setBody, which knows the body);
//   - HTTP_CONTENT_TYPE, HTTP_CONTENT_LENGTH, which PEP 3333 forbids
//     (the front server gives them again as CONTENT_*), and names holding
//     a '.', which could replace the server's own wsgi.* keys;
//   - SCRIPT_NAME: when the front server gives none (or an empty one), the
//     mount prefix (--script-name) is split off PATH_INFO, as over HTTP;
//   - a request header the front server sends once per header line (nginx
//     before 1.23 sends two Cookie lines as two HTTP_COOKIE variables)
//     becomes one variable, as over HTTP: joined by the one rule (see
//     separator). Any other variable given twice keeps its last
//     value (fastcgi_param SCRIPT_NAME after include fastcgi_params);
//   - RAW_URI, when the front server gives none, is REQUEST_URI, as over
//     HTTP.
//
// A request of more than maxHeaders header variables (HTTP_*, Host aside)
// is refused with 431 before any is looked at, as the engine refuses more
// header lines than --limit-request-fields; 0 is no limit.
//
// HTTPS=on/1/yes or REQUEST_SCHEME=https make wsgi.url_scheme "https".
// SERVER_NAME and SERVER_PORT default to HTTP_HOST, else the listening
// address; QUERY_STRING, PATH_INFO and SERVER_PROTOCOL are always present.
func (r *Request) EnvironFromCGI(vars [][2][]byte, local Peer, maxHeaders int) (status int, length int64) {
	// A panic here costs this request a 500, not the process.
	defer func() {
		if v := recover(); v != nil {
			r.app.log.Error("panic reading a request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			status, length = 500, BodyAbsent
		}
	}()
	defer AfterEnviron.run(r)
	var method, scriptName, pathInfo, query, contentLength, serverName, serverPort, protocol, host []byte
	var requestURI []byte
	var haveMethod, havePath, haveProtocol, haveRawURI, https bool
	rp := &r.repeats
	headers := rp.linkVars(vars)
	defer rp.release()
	if maxHeaders > 0 && headers > maxHeaders {
		r.app.log.Warn("refusing a request of too many headers", "headers", headers, "limit", maxHeaders)
		return 431, BodyAbsent
	}
	for i, v := range vars {
		name, value := v[0], v[1]
		if rp.repeated(i) {
			continue
		}
		if j := rp.next(i); j > 0 {
			sep := separator(string(name) == "HTTP_COOKIE")
			r.joined = append(r.joined[:0], value...)
			for ; j > 0; j = rp.next(j) {
				r.joined = append(append(r.joined, sep...), vars[j][1]...)
			}
			value = r.joined
		}
		switch string(name) {
		case "REQUEST_METHOD":
			method, haveMethod = value, true
		case "SCRIPT_NAME":
			scriptName = value
		case "PATH_INFO":
			pathInfo, havePath = value, true
		case "QUERY_STRING":
			query = value
		case "CONTENT_LENGTH":
			contentLength = value
		case "CONTENT_TYPE":
			if len(value) > 0 {
				setVar(r, C.GW_K_CONTENT_TYPE, value)
			}
		case "SERVER_NAME":
			serverName = value
		case "SERVER_PORT":
			serverPort = value
		case "SERVER_PROTOCOL":
			protocol, haveProtocol = value, true
		case "HTTP_HOST":
			host = value
			setVar(r, C.GW_K_HTTP_HOST, value)
		case "HTTPS":
			https = https || isOn(value)
			setVar(r, C.GW_K_HTTPS, value)
		case "REQUEST_SCHEME":
			https = https || string(value) == "https"
			setNamedVar(r, "REQUEST_SCHEME", value)
		case "REQUEST_URI":
			requestURI = value
			setVar(r, C.GW_K_REQUEST_URI, value)
		case "RAW_URI":
			haveRawURI = true
			setVar(r, C.GW_K_RAW_URI, value)
		case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "":
		default:
			if !hasDot(name) {
				setNamedVar(r, string(name), value)
			}
		}
	}
	if https {
		r.c.in_flags |= C.GW_IN_HTTPS
	}
	if !haveRawURI && requestURI != nil {
		setVar(r, C.GW_K_RAW_URI, requestURI)
	}
	if !haveProtocol {
		protocol = []byte("HTTP/1.0")
	}
	setVar(r, C.GW_K_SERVER_PROTOCOL, protocol)
	setVar(r, C.GW_K_QUERY_STRING, query)
	// A front server may leave SERVER_NAME empty (nginx without a
	// server_name): the Host header, else the listening address, stands in.
	if len(serverName) == 0 || len(serverPort) == 0 {
		name, port := []byte(local.LocalName), []byte(local.LocalPort)
		if len(host) > 0 {
			name, port = SplitHostPort(host)
			if len(port) == 0 {
				port = []byte("80")
				if https {
					port = []byte("443")
				}
			}
		}
		if len(serverName) == 0 {
			serverName = name
		}
		if len(serverPort) == 0 {
			serverPort = port
		}
	}
	setVar(r, C.GW_K_SERVER_NAME, serverName)
	setVar(r, C.GW_K_SERVER_PORT, serverPort)
	if !haveMethod || len(method) == 0 {
		return 400, BodyAbsent
	}
	setVar(r, C.GW_K_REQUEST_METHOD, method)
	r.isHead = string(method) == "HEAD"
	if !havePath {
		pathInfo = nil
	}
	if len(scriptName) > 0 {
		setVar(r, C.GW_K_SCRIPT_NAME, scriptName)
		setVar(r, C.GW_K_PATH_INFO, pathInfo)
	} else if !setPath(r, pathInfo) {
		return 404, BodyAbsent
	}
	if len(contentLength) == 0 {
		return 0, BodyAbsent
	}
	n, err := strconv.ParseInt(string(contentLength), 10, 64)
	if err != nil || n < 0 {
		return 400, BodyAbsent
	}
	return 0, n
}

// isHeaderVar reports whether a variable is a request header's. HTTP_HOST
// is not joined: a front server sends one Host.
func isHeaderVar(name []byte) bool {
	return len(name) > 5 && string(name[:5]) == "HTTP_" && string(name) != "HTTP_HOST"
}

// isOn reads HTTPS as wsgiref.util.guess_scheme does.
func isOn(v []byte) bool {
	switch string(v) {
	case "on", "1", "yes", "ON", "On", "YES", "Yes":
		return true
	}
	return false
}

func hasDot(name []byte) bool {
	for _, c := range name {
		if c == '.' {
			return true
		}
	}
	return false
}

// EnvironMap is the environ an App of opts would give its application for
// hr, without the wsgi.* objects (wsgi.url_scheme is included), as CGI
// variables; or the status the request would get instead (404, 400). The
// same code builds it as for a real request (gowsgi.Environ).
func EnvironMap(hr *http.Request, opts Options) (map[string]string, int) {
	opts.setDefaults()
	a := &App{opts: opts}
	a.proxy, _ = newProxyTrust(&a.opts) // the defaults, which parse
	r := newRequest(a)
	defer r.destroy()
	if status := r.EnvironFromHTTP(hr); status != 0 {
		return nil, status
	}
	if hr.ContentLength > 0 || (hr.ContentLength == 0 && hr.Header.Get("Content-Length") != "") {
		setVar(r, C.GW_K_CONTENT_LENGTH, strconv.FormatInt(hr.ContentLength, 10))
	}
	env := make(map[string]string, r.c.nentries+2)
	for i := 0; i < int(r.c.nentries); i++ {
		e := &r.entries[i]
		name := ""
		if e.key >= 0 {
			name = keyNames[e.key]
		} else {
			name = string(r.arena[e.name_off : e.name_off+e.name_len])
		}
		env[name] = string(r.arena[e.val_off : e.val_off+e.val_len])
	}
	env["SERVER_SOFTWARE"] = opts.ServerSoftware
	env["wsgi.url_scheme"] = "http"
	if r.c.in_flags&C.GW_IN_HTTPS != 0 {
		env["wsgi.url_scheme"] = "https"
	}
	return env, 0
}
