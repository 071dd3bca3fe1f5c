// Package gowsgi serves Python WSGI applications (PEP 3333) from Go, with
// CPython embedded in the process.
//
// An App is a WSGI application loaded into the interpreter together with
// its pool of Python threads. It is an http.Handler, so a Go program can
// mount a Flask or Django application beside its own handlers:
//
//	app, err := gowsgi.New(gowsgi.Options{App: "legacy.wsgi:application", ScriptName: "/legacy"})
//	...
//	mux.Handle("/legacy/", app)
//
// Server serves an App over plain HTTP/1.1 with its own lean engine; the
// gowsgi command is built on both.
//
// The gateway follows Python's wsgiref.handlers: the environ is built in one
// C call, start_response and write() are C callables, wsgi.input is a C
// file-like over the request body, and the response iterable is consumed in
// C, each write to the client happening with the GIL released.
package gowsgi

// Version is the gowsgi version.
const Version = "0.1.0"
