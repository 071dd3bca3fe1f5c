package gowsgi

// #include "gowsgi.h"
import "C"

import "sync/atomic"

// Helpers every front end uses to fill the environ the same way.

// testHook is a function tests may set to break a request at one point.
type testHook struct {
	f atomic.Pointer[func(*request)]
}

func (h *testHook) run(r *request) {
	if f := h.f.Load(); f != nil {
		(*f)(r)
	}
}

// afterEnviron breaks a front end as it reads a request.
var afterEnviron testHook

// setPath sets SCRIPT_NAME and PATH_INFO from the percent-decoded path. It
// reports false when the path lies outside the mount prefix.
func setPath[T ~string | ~[]byte](r *request, path T) bool {
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
func setServer[T ~string | ~[]byte](r *request, host T, localName, localPort string, https bool) {
	if len(host) == 0 {
		setVar(r, C.GW_K_SERVER_NAME, localName)
		setVar(r, C.GW_K_SERVER_PORT, localPort)
		return
	}
	name, port := splitHostPort(host)
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

// splitHostPort splits "name:port", "[v6]:port", "name" or "[v6]". IPv6
// names keep their brackets, so that PEP 3333's URL reconstruction yields a
// valid URL.
func splitHostPort[T ~string | ~[]byte](host T) (name, port T) {
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

// setRemote sets REMOTE_ADDR and REMOTE_PORT from "ip:port".
func setRemote(r *request, addr string) {
	name, port := splitHostPort(addr)
	if len(name) > 1 && name[0] == '[' {
		name = name[1 : len(name)-1]
	}
	setVar(r, C.GW_K_REMOTE_ADDR, name)
	setVar(r, C.GW_K_REMOTE_PORT, port)
}

// envValue is the value of a known environ key of the current request, nil
// if the request has none.
func (r *request) envValue(key int32) []byte {
	for i := 0; i < int(r.c.nentries); i++ {
		if e := &r.entries[i]; int32(e.key) == key {
			return r.arena[e.val_off : e.val_off+e.val_len]
		}
	}
	return nil
}

// envNamed is the value of any environ name of the current request.
func (r *request) envNamed(name string) []byte {
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

// describe names the request in log lines: "GET /path?query".
func (r *request) describe() string {
	return string(r.envValue(C.GW_K_REQUEST_METHOD)) + " " + string(r.envValue(C.GW_K_REQUEST_URI))
}
