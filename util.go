package gowsgi

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/gowsgi/gowsgi/internal/core"
)

// The pieces of Python's wsgiref.util a Go program needs around the
// applications it mounts. Environs here are map[string]string holding the
// CGI variables; a value's bytes are the latin-1 characters the application
// sees (PATH_INFO "%FF" is the one byte 0xFF here, "\xff" in Python).

// ErrOutsidePrefix: the request's path is not under the mount prefix, so
// the application would not see it (ServeHTTP answers 404).
var ErrOutsidePrefix = errors.New("gowsgi: path outside the mount prefix")

// ErrSchemeHeaders: a trusted front end sent scheme headers that disagree
// (X-Forwarded-Proto: https with X-Forwarded-Ssl: off), which ServeHTTP
// answers 400 (see Options.SecureSchemeHeaders).
var ErrSchemeHeaders = errors.New("gowsgi: the request's scheme headers disagree")

// Environ is the environ an App mounted at scriptName would give its
// application for hr, without the wsgi.* objects (wsgi.url_scheme is
// included): the same code builds it as for a real request, so Go tests of
// a program that embeds applications can check what they will see. A
// chunked body has no CONTENT_LENGTH here (serving it reads the body and
// sets one).
func Environ(hr *http.Request, scriptName string) (map[string]string, error) {
	opts := Options{ScriptName: scriptName}
	switch env, status := core.EnvironMap(hr, opts.core()); status {
	case 0:
		return env, nil
	case http.StatusBadRequest:
		return nil, ErrSchemeHeaders
	default:
		return nil, ErrOutsidePrefix
	}
}

// ApplicationURI is wsgiref.util.application_uri: the URL of the
// application's root, from wsgi.url_scheme, HTTP_HOST (else SERVER_NAME
// and a non-default SERVER_PORT) and SCRIPT_NAME.
func ApplicationURI(env map[string]string) string {
	scheme := env["wsgi.url_scheme"]
	url := scheme + "://"
	if host, ok := env["HTTP_HOST"]; ok && host != "" {
		url += host
	} else {
		url += env["SERVER_NAME"]
		port := env["SERVER_PORT"]
		if (scheme == "https" && port != "443") || (scheme != "https" && port != "80") {
			url += ":" + port
		}
	}
	script := env["SCRIPT_NAME"]
	if script == "" {
		script = "/"
	}
	return url + quote(script, "/")
}

// RequestURI is wsgiref.util.request_uri: the full URL of the request,
// with its query string if includeQuery.
func RequestURI(env map[string]string, includeQuery bool) string {
	url := ApplicationURI(env)
	pathInfo := quote(env["PATH_INFO"], "/;=,")
	if env["SCRIPT_NAME"] == "" && pathInfo != "" {
		url += pathInfo[1:]
	} else {
		url += pathInfo
	}
	if q := env["QUERY_STRING"]; includeQuery && q != "" {
		url += "?" + q
	}
	return url
}

// ShiftPathInfo is wsgiref.util.shift_path_info: it moves the first
// segment of PATH_INFO to the end of SCRIPT_NAME and returns it, for
// dispatching to an application mounted below. ok is false when PATH_INFO
// was empty or lacked its leading "/" (nothing moved), or the segment was
// "." (Python's None).
func ShiftPathInfo(env map[string]string) (name string, ok bool) {
	parts := strings.Split(env["PATH_INFO"], "/")
	if len(parts) < 2 {
		return "", false
	}
	// Empty and "." segments between the first and the last are dropped.
	kept := parts[:1]
	for i := 1; i < len(parts); i++ {
		if i == len(parts)-1 || (parts[i] != "" && parts[i] != ".") {
			kept = append(kept, parts[i])
		}
	}
	name = kept[1]
	parts = append(kept[:1], kept[2:]...)
	script := normpath(env["SCRIPT_NAME"] + "/" + name)
	script = strings.TrimSuffix(script, "/")
	if name == "" && !strings.HasSuffix(script, "/") {
		script += "/"
	}
	env["SCRIPT_NAME"] = script
	env["PATH_INFO"] = strings.Join(parts, "/")
	if name == "." {
		return "", false
	}
	return name, true
}

// normpath is Python's posixpath.normpath: path.Clean, except that POSIX
// keeps exactly two leading slashes.
func normpath(p string) string {
	clean := path.Clean(p)
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		if clean == "/" {
			return "//"
		}
		return "/" + clean
	}
	return clean
}

// quote is Python's urllib.parse.quote(s, safe, encoding="latin-1") for a
// string whose bytes are latin-1 characters.
func quote(s, safe string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
