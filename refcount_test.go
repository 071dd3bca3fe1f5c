//go:build gowsgi_pydebug

// The reference-count test: it needs a debug build of Python (Py_DEBUG,
// for sys.gettotalrefcount), so it is built only with the tag
// gowsgi_pydebug, which make test-sanitize gives (scripts/test-sanitize).

package gowsgi

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// refcountRequests is how many requests the test serves in all, spread
// over the kinds; refcountSlack is the drift of sys.gettotalrefcount()
// one kind's batch may show. A leak of one reference in every request of
// one kind is refcountRequests/len(refcountKinds) (over 7000 by
// default): the slack is far below it; the measured drift is 0
// (docs/reliability.md).
const refcountSlack = 500

// -refcount.requests serves fewer requests, to see a leak fail the test
// quickly (docs/reliability.md: one reference leaked per request).
var refcountRequests = flag.Int("refcount.requests", 100_000, "requests TestRefcountFlat serves")

// A kind of request: what the client sends, what it must get back.
type refcountKind struct {
	path   string
	body   string // a POST body, if any
	status int
	want   string // the body, or its beginning when cut is set
	cut    bool   // the response is cut short (an error after the head)
}

var refcountBody = strings.Repeat("a line of the request body\n", 2000)

var refcountKinds = []refcountKind{
	{path: "/plain", status: 200, want: "hello"},
	{path: "/environ", status: 200},
	{path: "/input", body: refcountBody, status: 200, want: strconv.Itoa(len(refcountBody))},
	{path: "/generator", status: 200, want: "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"},
	{path: "/closing", status: 200, want: "abc"},
	{path: "/file", status: 200, want: mustRead("testdata/conformance.py")},
	{path: "/filelike", status: 200, want: strings.Repeat("0123456789", 500)},
	{path: "/exc_info", status: 500, want: "handled"},
	{path: "/exc_info_lazy", status: 404, want: "replaced"},
	{path: "/error", status: 500, want: "Internal Server Error\n"},
	{path: "/error_after", status: 200, want: "part", cut: true},
	{path: "/write", status: 200, want: "written returned"},
	{path: "/errors", status: 200, want: "logged"},
}

func mustRead(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// countingWriter counts the tracebacks written to it and keeps nothing
// else: 100k requests' worth of error log would not fit in a test.
type countingWriter struct{ tracebacks atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.tracebacks.Add(int64(bytes.Count(p, []byte("Traceback (most recent call last)"))))
	return len(p), nil
}

// Serving requests leaves the interpreter's total reference count where
// it was: a reference the C code takes and never drops (or drops twice)
// in any kind of request moves sys.gettotalrefcount() by one per request.
// Each kind is served in its own batch, four clients at once over two
// Python threads, and each batch's drift is checked, so a leak names its
// kind.
func TestRefcountFlat(t *testing.T) {
	log := &countingWriter{}
	app, err := New(Options{
		App:      "refcount_app:application",
		Threads:  2,
		Logger:   slog.New(slog.NewTextHandler(log, nil)),
		Errors:   io.Discard,
		Validate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	url := "http://" + serveEngine(t, app, nil)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	// A few hundred of each kind first: the interpreter's caches (the
	// modules the requests import, interned strings, free lists, thread
	// states) fill on the first requests and then stay.
	for _, k := range refcountKinds {
		if err := refcountBatch(client, url, k, 300); err != nil {
			t.Fatal(err)
		}
	}
	perKind := *refcountRequests / len(refcountKinds)
	total := 0
	start := refcount(t, client, url)
	before := start
	for _, k := range refcountKinds {
		if err := refcountBatch(client, url, k, perKind); err != nil {
			t.Fatal(err)
		}
		after := refcount(t, client, url)
		drift := after - before
		t.Logf("%-14s %6d requests: drift %+d (%+.5f per request)", k.path, perKind, drift, float64(drift)/float64(perKind))
		if drift > refcountSlack || drift < -refcountSlack {
			t.Errorf("%s: sys.gettotalrefcount() moved by %+d over %d requests (%+.3f per request): a reference leaked or was dropped twice",
				k.path, drift, perKind, float64(drift)/float64(perKind))
		}
		before = after
		total += perKind
	}
	drift := before - start
	t.Logf("all kinds     %6d requests: drift %+d (%+.5f per request)", total, drift, float64(drift)/float64(total))
	// The errors were logged with their tracebacks (warm-up included).
	errorRequests := int64(2 * (300 + perKind))
	if got := log.tracebacks.Load(); got < errorRequests {
		t.Errorf("%d tracebacks in the error log, want at least %d", got, errorRequests)
	}
}

// refcountBatch sends n requests of kind k over four connections and
// checks each answer.
func refcountBatch(client *http.Client, url string, k refcountKind, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := refcountOne(client, url, k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func refcountOne(client *http.Client, url string, k refcountKind) error {
	method, body := "GET", io.Reader(nil)
	if k.body != "" {
		method, body = "POST", strings.NewReader(k.body)
	}
	req, err := http.NewRequest(method, url+k.path, body)
	if err != nil {
		return err
	}
	if k.path == "/environ" {
		for i := range 30 {
			req.Header.Add(fmt.Sprintf("X-Header-%d", i), strings.Repeat("v", i))
		}
		req.Header.Add("Cookie", "a=1")
		req.Header.Add("Cookie", "b=2")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %v", k.path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if k.cut {
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: read %q, %v: want the response cut short", k.path, got, err)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%s: reading the body: %v", k.path, err)
	}
	if resp.StatusCode != k.status || !strings.HasPrefix(string(got), k.want) || (!k.cut && k.want != "" && string(got) != k.want) {
		return fmt.Errorf("%s: %s %.80q, want %d %.80q", k.path, resp.Status, got, k.status, k.want)
	}
	if k.path == "/environ" && resp.Header.Get("X-Keys") == "" {
		return fmt.Errorf("%s: no X-Keys header", k.path)
	}
	return nil
}

// refcount is sys.gettotalrefcount() after a full collection, as the
// application answers it.
func refcount(t *testing.T, client *http.Client, url string) int64 {
	t.Helper()
	resp, err := client.Get(url + "/refcount")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/refcount: %s %q %v", resp.Status, b, err)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		t.Fatalf("/refcount: %v", err)
	}
	return n
}
