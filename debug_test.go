package gowsgi

import (
	"strings"
	"testing"
)

// With Debug, an exception before the head is answered with an HTML page:
// the exception, the application's file and failing line, all escaped.
// The error log still gets the plain traceback.
func TestDebugPage(t *testing.T) {
	run(t, "boom_markup", Options{Debug: true}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s %v", resp.Status, resp.Header)
		}
		for _, want := range []string{
			"<!DOCTYPE html>",
			"ValueError: &lt;script&gt;alert(&#x27;kaboom&#x27;)&lt;/script&gt; &amp; more",
			"conformance.py</code>",
			"in <code>boom_markup</code>",
			// The failing line, and the line above it, as source.
			"raise ValueError(&quot;&lt;script&gt;alert(&#x27;kaboom&#x27;)&lt;/script&gt; &amp; more&quot;)</span>",
			"&quot;&quot;&quot;The --debug page must escape what it shows",
			"Never use <code>--debug</code> in production",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("unescaped markup on the page:\n%s", body)
		}
		log := tg.log.String()
		for _, want := range []string{"Debug mode (--debug) shows tracebacks to every client: never use it in production", "Traceback (most recent call last)", `ValueError: <script>alert('kaboom')</script> & more`} {
			if !strings.Contains(log, want) {
				t.Errorf("error log lacks %q:\n%s", want, log)
			}
		}
	}, plainModes...)
}

// Without Debug the 500 shows nothing of the error.
func TestNoDebugPage(t *testing.T) {
	run(t, "boom_markup", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		if resp.StatusCode != 500 || body != "Internal Server Error\n" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s %q %v", resp.Status, body, resp.Header)
		}
		if strings.Contains(tg.log.String(), "Debug mode") {
			t.Errorf("debug warning without Debug:\n%s", tg.log)
		}
	}, plainModes...)
}

// The page also covers close() failing before anything was sent; after the
// head, an error still cuts the response off.
func TestDebugPageOtherErrors(t *testing.T) {
	run(t, "bad_close", Options{Debug: true}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		if resp.StatusCode != 500 || !strings.Contains(body, "RuntimeError: close failed") {
			t.Errorf("%s %q", resp.Status, body)
		}
	}, plainModes...)
	run(t, "boom_after", Options{Debug: true}, func(t *testing.T, tg *target) {
		resp, err := tg.client.Get(tg.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("%s %v", resp.Status, resp.Header)
		}
	}, plainModes...)
}
