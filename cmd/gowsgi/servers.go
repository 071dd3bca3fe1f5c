package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/listen"
)

// servers are a worker's servers, one per protocol its sockets speak.
type servers struct {
	http  *gowsgi.Server
	fcgi  *gowsgi.FastCGIServer
	uwsgi *gowsgi.UWSGIServer
}

func newServers(http *gowsgi.Server) *servers {
	app := http.App
	return &servers{
		http:  http,
		fcgi:  &gowsgi.FastCGIServer{App: app},
		uwsgi: &gowsgi.UWSGIServer{App: app},
	}
}

// serve serves ln with the server of its protocol until shutdown.
func (s *servers) serve(ln listen.Listener) error {
	switch ln.Protocol {
	case listen.HTTP:
		return s.http.Serve(ln.Listener) // the socket itself: the engine waits on its descriptor
	case listen.FastCGI:
		return s.fcgi.Serve(ln)
	case listen.UWSGI:
		return s.uwsgi.Serve(ln)
	}
	return fmt.Errorf("socket %s: unknown protocol %q", ln.Addr(), ln.Protocol)
}

// shutdown stops them all gracefully, together.
func (s *servers) shutdown(ctx context.Context) error {
	errs := make(chan error, 3)
	for _, stop := range []func(context.Context) error{s.http.Shutdown, s.fcgi.Shutdown, s.uwsgi.Shutdown} {
		go func() { errs <- stop(ctx) }()
	}
	var all []error
	for range 3 {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}
