package gowsgi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/testutil"
)

// The tests start the interpreter once, with testdata/ on sys.path, and
// serve the applications of testdata/conformance.py through both HTTP front
// ends, the HTTP/1.1 engine (Server) and net/http (App as http.Handler), and
// through the FastCGI and uwsgi gateways behind nginx.
func TestMain(m *testing.M) {
	if err := StartPython(PythonConfig{Path: []string{"testdata"}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	StopPython()
	os.Exit(code)
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer = testutil.Buffer

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// target is an application served one way.
type target struct {
	name      string
	engine    bool   // served by Server (else by net/http or a gateway)
	protocol  string // "fcgi" or "uwsgi": served by that gateway behind nginx
	validated bool   // wrapped in wsgiref.validate.validator
	checked   bool   // served with Options.Validate
	app       *App
	url       string
	addr      string
	log       *syncBuffer // error log
	errors    *syncBuffer // wsgi.errors
	client    *http.Client
	accepted  *atomic.Int32 // gateways: the connections nginx opened to gowsgi
}

// gateway reports whether the target is a gateway behind nginx: nginx, not
// gowsgi, parses the client's request and frames the response it gets, and
// defines what a front server defines (REMOTE_ADDR, SERVER_PORT, ...).
func (tg *target) gateway() bool { return tg.protocol != "" }

// netHTTP reports whether net/http serves the target, which writes the
// status line and frames the response its own way.
func (tg *target) netHTTP() bool { return !tg.engine && !tg.gateway() }

// What nginx defines for the gateways, with the configuration of
// docs/gateways.md (Debian's fastcgi_params and uwsgi_params).

// hostVar is the HTTP_HOST the application gets for a request with the
// Host header host ("" for none), and whether it gets one. Behind nginx it
// is nginx's $host, always sent: the host name without its port ("" for a
// request without a Host header and a server without server_name).
func (tg *target) hostVar(host string) (string, bool) {
	if !tg.gateway() {
		return host, host != ""
	}
	name, _ := core.SplitHostPort(host)
	return name, true
}

// cutShortVisible reports whether the client can tell a response without
// a Content-Length cut short by an error from a whole one. Behind nginx
// over uwsgi it cannot: the end of the connection ends a uwsgi response,
// so nginx ends its response to the client cleanly. (Resetting the
// connection instead makes nginx cut its response, but drop the part of
// the body it had received.)
func (tg *target) cutShortVisible() bool { return tg.protocol != "uwsgi" }

// newApp loads an application with its logs captured.
func newApp(t *testing.T, opts Options) (*App, *syncBuffer, *syncBuffer) {
	t.Helper()
	log, errs := &syncBuffer{}, &syncBuffer{}
	opts.Logger = slog.New(logging.NewHandler(log, slog.LevelDebug))
	opts.Errors = errs
	app, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app, log, errs
}

// serveEngine serves app with Server on a free port of 127.0.0.1.
func serveEngine(t *testing.T, app *App, configure func(*Server)) string {
	t.Helper()
	srv := &Server{App: app}
	if configure != nil {
		configure(srv)
	}
	ln := listenLocal(t)
	serveUntilCleanup(t, srv, ln)
	return ln.Addr().String()
}

// listenLocal listens on a free port of 127.0.0.1.
func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveUntilCleanup serves ln with srv (Server, FastCGIServer,
// UWSGIServer) until the test ends, then shuts it down.
func serveUntilCleanup(t *testing.T, srv interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}, ln net.Listener) {
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
}

// serve loads the application and serves it the way v says.
func serve(t *testing.T, v variant, opts Options) *target {
	t.Helper()
	spec := opts.App
	if v.validated {
		module, name, _ := strings.Cut(spec, ":")
		opts.App = fmt.Sprintf("%s:validated(%q)", module, name)
	}
	opts.Validate = opts.Validate || v.checked
	app, log, errs := newApp(t, opts)
	tg := &target{name: v.String(), engine: v.engine, protocol: v.protocol, validated: v.validated, checked: v.checked, app: app, log: log, errors: errs}
	tr := &http.Transport{DisableCompression: true}
	tg.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	switch {
	case v.protocol != "":
		tg.addr, tg.accepted = serveGateway(t, app, v.protocol)
	case v.engine:
		tg.addr = serveEngine(t, app, nil)
	default:
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		tg.addr = srv.Listener.Addr().String()
	}
	tg.url = "http://" + tg.addr
	return tg
}

// variant is one way to serve an application: protocol "" is HTTP, by the
// engine or by net/http.
type variant struct {
	engine, validated, checked bool
	protocol                   string
}

func (v variant) String() string {
	s := "nethttp"
	if v.engine {
		s = "engine"
	}
	if v.protocol != "" {
		s = v.protocol
	}
	if v.validated {
		s += "+validator"
	}
	if v.checked {
		s += "+validate"
	}
	return s
}

// variants are the ways the conformance tests serve an application.
var variants = []variant{
	{engine: true}, {}, {engine: true, validated: true}, {validated: true}, {engine: true, checked: true},
	{protocol: "fcgi"}, {protocol: "uwsgi"}, {protocol: "fcgi", validated: true}, {protocol: "uwsgi", validated: true},
}

// The modes a test body runs in, each a variant. run takes allModes
// unless told otherwise.
var (
	// allModes: both HTTP front ends and both gateways, each plain and
	// behind wsgiref.validate.validator, and the engine with
	// Options.Validate; neither validator may fire.
	allModes = variants
	// wsgirefModes leave out Options.Validate, for applications that pass
	// wsgiref.validate but break a rule only gowsgi's validator checks (a
	// body on a 204, to see the server drop it).
	wsgirefModes = pick(func(v variant) bool { return !v.checked })
	// plainModes leave out both validators, for applications that break a
	// rule on purpose or use what the validators forbid.
	plainModes = pick(func(v variant) bool { return !v.checked && !v.validated })
	// httpModes are for what only HTTP front ends do: the client's
	// connection itself (its framing, its keep-alive, its pace), which
	// behind a gateway is nginx's.
	httpModes = pick(func(v variant) bool { return v.protocol == "" })
	// gatewayModes: each gateway behind nginx, plain and behind
	// wsgiref.validate.validator.
	gatewayModes = pick(func(v variant) bool { return v.protocol != "" && !v.checked })
)

func pick(keep func(variant) bool) []variant {
	var vs []variant
	for _, v := range variants {
		if keep(v) {
			vs = append(vs, v)
		}
	}
	return vs
}

// run runs the test body f against the application name (a conformance
// application, or "module:callable") with opts, once in each of modes
// (allModes if none), as a subtest named after the mode.
func run(t *testing.T, name string, opts Options, f func(t *testing.T, tg *target), modes ...variant) {
	if len(modes) == 0 {
		modes = allModes
	}
	for _, v := range modes {
		t.Run(v.String(), func(t *testing.T) {
			o := opts
			o.App = name
			if !strings.Contains(name, ":") {
				o.App = "conformance:" + name
			}
			tg := serve(t, v, o)
			f(t, tg)
			if v.validated && strings.Contains(tg.log.String(), "AssertionError") {
				t.Errorf("wsgiref.validate fired:\n%s", tg.log)
			}
			if v.checked && strings.Contains(tg.log.String(), "WSGI violation") {
				t.Errorf("Options.Validate fired:\n%s", tg.log)
			}
		})
	}
}

// get performs a request and returns the response with its body read.
func (tg *target) do(t *testing.T, method, path string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, tg.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Add(header[i], header[i+1])
		}
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nlog:\n%s", method, path, err, tg.log)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

func (tg *target) get(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	return tg.do(t, "GET", path, nil, header...)
}

// getJSON GETs path and decodes a 200 JSON answer into v.
func (tg *target) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, body := tg.get(t, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s\nlog:\n%s", path, resp.Status, body, tg.log)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, body)
	}
}

// dial connects to addr with a deadline for the whole exchange.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// raw sends bytes on a new connection and returns all the server sends
// back until it closes the connection.
func raw(t *testing.T, addr, request string) string {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("reading the answer: %v (got %q)", err, b)
	}
	return string(b)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// readResponses reads n responses from one connection.
func readResponses(t *testing.T, r *bufio.Reader, n int, method string) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response %d body: %v", i+1, err)
		}
		out = append(out, resp.Status+"|"+string(b))
	}
	return out
}

func readerOrNil(r *strings.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return r
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }
