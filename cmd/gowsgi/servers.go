package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/listen"
	"golang.org/x/net/netutil"
)

// servers are a worker's servers, one per protocol its sockets speak.
type servers struct {
	http  *gowsgi.Server
	https *http.Server // with --certfile: TLS (and HTTP/2 if asked) through net/http
	fcgi  *gowsgi.FastCGIServer
	uwsgi *gowsgi.UWSGIServer
}

func newServers(h *gowsgi.Server, fcgiIdle time.Duration, tlsConf *tls.Config, log *slog.Logger) *servers {
	app := h.App
	s := &servers{
		http: h,
		// --limit-request-fields bounds the header variables of the
		// gateways' requests as it bounds the engine's header lines.
		fcgi:  &gowsgi.FastCGIServer{App: app, MaxHeaders: h.Limits.Fields, IdleTimeout: fcgiIdle},
		uwsgi: &gowsgi.UWSGIServer{App: app, MaxHeaders: h.Limits.Fields},
	}
	if tlsConf != nil {
		s.https = &http.Server{
			Handler:           app,
			TLSConfig:         tlsConf,
			IdleTimeout:       h.KeepAlive,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelInfo),
		}
		if !offersHTTP2(tlsConf) {
			// net/http would offer HTTP/2 by itself: h1 is gunicorn's default.
			s.https.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}
	}
	return s
}

// serve serves ln with the server of its protocol until shutdown.
func (s *servers) serve(ln listen.Listener) error {
	switch ln.Protocol {
	case listen.HTTP:
		if s.https != nil {
			// The PROXY header comes before TLS.
			plain, err := gowsgi.ProxyProtocolListener(s.limit(ln), s.http.ProxyProtocol, s.http.ProxyAllowFrom, s.https.ReadHeaderTimeout)
			if err != nil {
				return err
			}
			err = s.https.ServeTLS(plain, "", "")
			if errors.Is(err, http.ErrServerClosed) {
				return gowsgi.ErrServerClosed
			}
			return err
		}
		return s.http.Serve(ln.Listener) // the socket itself: the engine waits on its descriptor
	case listen.FastCGI:
		return s.fcgi.Serve(s.limit(ln))
	case listen.UWSGI:
		return s.uwsgi.Serve(s.limit(ln))
	}
	return fmt.Errorf("socket %s: unknown protocol %q", ln.Addr(), ln.Protocol)
}

// limit bounds the connections a socket served by net/http or a gateway
// holds at once by --max-connections: beyond it the next waits in the
// kernel's queue until one closes. (The engine answers 503 instead,
// counting all its sockets together; over TLS, or to a front server,
// there is no cheap answer to give before the handshake.)
func (s *servers) limit(ln net.Listener) net.Listener {
	if s.http.MaxConnections <= 0 { // --max-connections 0: no limit
		return ln
	}
	return netutil.LimitListener(ln, s.http.MaxConnections)
}

// shutdown stops them all gracefully, together.
func (s *servers) shutdown(ctx context.Context) error {
	stops := []func(context.Context) error{s.http.Shutdown, s.fcgi.Shutdown, s.uwsgi.Shutdown}
	if s.https != nil {
		stops = append(stops, s.https.Shutdown)
	}
	errs := make(chan error, len(stops))
	for _, stop := range stops {
		go func() { errs <- stop(ctx) }()
	}
	var all []error
	for range stops {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// tlsConfig is the TLS of --certfile, --keyfile, --ca-certs, --cert-reqs
// and --http-protocols; nil without --certfile.
func tlsConfig(s *settings) (*tls.Config, error) {
	if s.certfile == "" {
		return nil, nil
	}
	key := s.keyfile
	if key == "" {
		key = s.certfile // gunicorn: the certificate file may hold the key
	}
	cert, err := tls.LoadX509KeyPair(s.certfile, key)
	if err != nil {
		return nil, fmt.Errorf("--certfile %s, --keyfile %s: %w", s.certfile, key, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch s.certReqs {
	case 0:
	case 1:
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case 2:
		c.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("--cert-reqs %d: expected 0 (none), 1 (optional) or 2 (required)", s.certReqs)
	}
	if s.caCerts != "" {
		pem, err := os.ReadFile(s.caCerts)
		if err != nil {
			return nil, fmt.Errorf("--ca-certs: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-certs %s: no PEM certificate in it", s.caCerts)
		}
		c.ClientCAs = pool
	} else if s.certReqs != 0 {
		return nil, errors.New("--cert-reqs: client certificates are checked against --ca-certs, which is not given")
	}
	for _, p := range strings.Split(s.httpProtocols, ",") {
		switch p = strings.TrimSpace(p); p {
		case "h1":
			c.NextProtos = append(c.NextProtos, "http/1.1")
		case "h2":
			c.NextProtos = append(c.NextProtos, "h2")
		case "":
		default:
			return nil, fmt.Errorf("--http-protocols: %q is not h1 or h2", p)
		}
	}
	return c, nil
}

func offersHTTP2(c *tls.Config) bool {
	for _, p := range c.NextProtos {
		if p == "h2" {
			return true
		}
	}
	return false
}
