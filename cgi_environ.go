package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
)

// The gateways that receive CGI variables from a front server (FastCGI,
// uwsgi, CGI) build the environ here, all the same way. The front server
// has parsed the HTTP request: its variables are taken as given, and only
// what PEP 3333 requires and the front server left out is filled in.

// cgiRequest is what a gateway needs besides the environ.
type cgiRequest struct {
	status int   // 0, or the status to answer instead of running the application
	length int64 // CONTENT_LENGTH, or noBody when the front server gave none
}

// runCGI runs a request whose environ came from CGI variables, its body
// from body (nil: none): the application through the pool, or the status
// the gateway or the body already decided (400, 413, ...), or 503 when
// no Python thread could take it.
func (r *request) runCGI(req cgiRequest, body io.Reader) {
	a := r.app
	if req.status == 0 {
		if status, err := r.setBody(body, req.length, false); status != 0 {
			a.log.Info("rejected request body", "request", r.describe(), "error", err)
			req.status = status
		}
	}
	if req.status != 0 {
		r.respond(req.status, http.StatusText(req.status))
	} else if err := a.pool.serve(r); err != nil {
		a.log.Warn("request not served", "request", r.describe(), "reason", err)
		r.respond(503, "Service Unavailable", [2]string{"Retry-After", "1"})
	}
}

// cgiLocal is what a gateway knows of its own end, for the variables the
// front server did not give.
type cgiLocal struct {
	name, port string // the listening address
}

// environFromCGI fills the environ from the variables of a front server:
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
//     becomes one variable, as over HTTP: the values joined with ", ",
//     cookies with "; ". Any other variable given twice keeps its last
//     value (fastcgi_param SCRIPT_NAME after include fastcgi_params);
//   - RAW_URI, when the front server gives none, is REQUEST_URI, as over
//     HTTP.
//
// HTTPS=on/1/yes or REQUEST_SCHEME=https make wsgi.url_scheme "https".
// SERVER_NAME and SERVER_PORT default to HTTP_HOST, else the listening
// address; QUERY_STRING, PATH_INFO and SERVER_PROTOCOL are always present.
func (r *request) environFromCGI(vars [][2][]byte, local cgiLocal) (req cgiRequest) {
	// A panic here costs this request a 500, not the process.
	defer func() {
		if v := recover(); v != nil {
			r.app.log.Error("panic reading a request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			req = cgiRequest{status: 500, length: noBody}
		}
	}()
	defer afterEnviron.run(r)
	var method, scriptName, pathInfo, query, contentLength, serverName, serverPort, protocol, host []byte
	var requestURI []byte
	var haveMethod, havePath, haveProtocol, haveRawURI, https bool
	var joined []byte
	for i, v := range vars {
		name, value := v[0], v[1]
		if isHeaderVar(name) {
			var first bool
			value, first = joinHeaderVar(vars, i, &joined)
			if !first {
				continue
			}
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
		name, port := []byte(local.name), []byte(local.port)
		if len(host) > 0 {
			name, port = splitHostPort(host)
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
		return cgiRequest{status: 400, length: noBody}
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
		return cgiRequest{status: 404, length: noBody}
	}
	if len(contentLength) == 0 {
		return cgiRequest{length: noBody}
	}
	n, err := strconv.ParseInt(string(contentLength), 10, 64)
	if err != nil || n < 0 {
		return cgiRequest{status: 400, length: noBody}
	}
	return cgiRequest{length: n}
}

// isHeaderVar reports whether a variable is a request header's. HTTP_HOST
// is not joined: a front server sends one Host.
func isHeaderVar(name []byte) bool {
	return len(name) > 5 && string(name[:5]) == "HTTP_" && string(name) != "HTTP_HOST"
}

// joinHeaderVar returns the value of the header variable vars[i] joined
// with the later ones of the same name (into *buf, reused), and whether
// vars[i] is the first of its name: the later ones are then skipped.
// Requests rarely repeat a header, so the cost is comparing names.
func joinHeaderVar(vars [][2][]byte, i int, buf *[]byte) ([]byte, bool) {
	name, value := vars[i][0], vars[i][1]
	for _, v := range vars[:i] {
		if string(v[0]) == string(name) {
			return nil, false
		}
	}
	sep := ", "
	if string(name) == "HTTP_COOKIE" {
		sep = "; "
	}
	joined := false
	for _, v := range vars[i+1:] {
		if string(v[0]) != string(name) {
			continue
		}
		if !joined {
			*buf = append((*buf)[:0], value...)
			joined = true
		}
		*buf = append(append(*buf, sep...), v[1]...)
	}
	if joined {
		value = *buf
	}
	return value, true
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
