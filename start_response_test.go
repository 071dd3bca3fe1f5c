package gowsgi

import (
	"io"
	"strings"
	"testing"
)

// Every broken use of start_response is a 500 for the client and an error
// log line naming the rule, and the server goes on.
func TestStartResponseRules(t *testing.T) {
	cases := map[string]string{
		"status-int":        "status must be a str",
		"status-noreason":   "three-digit code",
		"status-code":       "three-digit code",
		"status-crlf":       "status must not contain CR, LF",
		"header-crlf":       "must not contain CR, LF",
		"header-hop":        "hop-by-hop header 'Connection'",
		"headers-tuple":     "must be a list of (name, value) tuples",
		"header-bytes":      "header names and values must be str",
		"header-name":       "'Bad Name' is not a token",
		"header-nonlatin":   "must hold only latin-1 characters",
		"content-length":    "Content-Length must be a non-negative integer",
		"twice":             "start_response() called a second time without exc_info",
		"body-before-start": "yielded body data before calling start_response()",
		"str-chunk":         "must yield bytes, not str",
		"no-start":          "body data before calling start_response()",
		"no-start-empty":    "returned a response without calling start_response()",
	}
	run(t, "bad", Options{}, func(t *testing.T, tg *target) {
		for query, rule := range cases {
			resp, body := tg.get(t, "/?"+query)
			if resp.StatusCode != 500 || body != "Internal Server Error\n" {
				t.Errorf("%s: %s %q, want a 500", query, resp.Status, body)
			}
			if resp.Header.Get("X-Injected") != "" {
				t.Errorf("%s: a header was injected", query)
			}
			if !strings.Contains(tg.log.String(), rule) {
				t.Errorf("%s: the error log does not name the rule %q:\n%s", query, rule, tg.log)
			}
		}
		if resp, _ := tg.get(t, "/?ok"); resp.StatusCode != 200 {
			t.Errorf("after the errors: %s", resp.Status)
		}
	}, plainModes...)
}

// exc_info before anything was sent replaces status and headers.
func TestStartResponseExcInfoBeforeHead(t *testing.T) {
	run(t, "exc_before", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		if resp.StatusCode != 500 || body != "handled" {
			t.Errorf("got %s %q, want the application's 500 page", resp.Status, body)
		}
	})
	run(t, "exc_lazy", Options{}, func(t *testing.T, tg *target) {
		resp, body := tg.get(t, "/")
		if resp.StatusCode != 404 || body != "replaced" {
			t.Errorf("after an empty chunk: %s %q, want 404 \"replaced\"", resp.Status, body)
		}
	})
}

// exc_info after the head was sent re-raises the application's exception,
// and the response is cut off, never completed.
func TestStartResponseExcInfoAfterHead(t *testing.T) {
	run(t, "exc_after", Options{}, func(t *testing.T, tg *target) {
		resp, err := tg.client.Get(tg.url + "/?" + tg.name)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "partial" || (err == nil) == tg.cutShortVisible() {
			t.Errorf("got %s %q, error %v; want 200 \"partial\" and a cut-off body (visible: %v)", resp.Status, body, err, tg.cutShortVisible())
		}
		// The module's state, read through another application of it.
		var same any
		serve(t, variant{engine: true}, Options{App: "conformance:reraised"}).getJSON(t, "/?"+tg.name, &same)
		if same != true {
			t.Errorf("start_response re-raised the same exception: %v", same)
		}
		if !strings.Contains(tg.log.String(), "ValueError: late failure") {
			t.Errorf("the error log lacks the traceback:\n%s", tg.log)
		}
	})
}

// Headers wait for the first non-empty chunk, so start_response may be
// called inside the generator.
func TestStartResponseLazy(t *testing.T) {
	run(t, "lazy", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.StatusCode != 201 || body != "lazy" {
			t.Errorf("got %s %q", resp.Status, body)
		}
	})
	run(t, "lazy_after_empty", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.StatusCode != 201 || body != "lazy" {
			t.Errorf("got %s %q", resp.Status, body)
		}
	}, plainModes...)
	run(t, "lazy_empty", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.StatusCode != 202 || body != "" {
			t.Errorf("got %s %q", resp.Status, body)
		}
	})
}

func TestWrite(t *testing.T) {
	run(t, "write", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body != "one,two,three,four" {
			t.Errorf("got %s %q", resp.Status, body)
		}
	})
	run(t, "write_interleaved", Options{}, func(t *testing.T, tg *target) {
		if resp, body := tg.get(t, "/"); resp.StatusCode != 200 || body != "abcd" {
			t.Errorf("got %s %q", resp.Status, body)
		}
	}, plainModes...)
}

// The reason phrase is the application's own, also behind nginx, which
// passes the gateway's status line on. (net/http cannot send one of its
// choosing: only the code is checked there.)
func TestStatusReasonPhrase(t *testing.T) {
	run(t, "status", Options{}, func(t *testing.T, tg *target) {
		resp, _ := tg.get(t, "/?299%20Custom%20Reason%20Phrase")
		if resp.StatusCode != 299 {
			t.Fatalf("status %s", resp.Status)
		}
		if !tg.netHTTP() && resp.Status != "299 Custom Reason Phrase" {
			t.Errorf("status line %q", resp.Status)
		}
		if !tg.netHTTP() {
			out := raw(t, tg.addr, "GET /?404%20Nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(out, "HTTP/1.1 404 Nope\r\n") {
				t.Errorf("raw status line: %q", out)
			}
		}
	})
}
