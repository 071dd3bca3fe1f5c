package gowsgi

import (
	"io"
	"strings"
	"testing"
)

// An exception before the head: 500, a short body, the traceback in the
// error log, and the server serves on.
func TestErrorBeforeHead(t *testing.T) {
	run(t, "boom", Options{}, func(t *testing.T, tg *target) {
		for i := 0; i < 3; i++ {
			resp, body := tg.get(t, "/some/path")
			if resp.StatusCode != 500 || body != "Internal Server Error\n" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("%s %q %v", resp.Status, body, resp.Header)
			}
		}
		log := tg.log.String()
		for _, want := range []string{"[ERROR] Error calling the application", "GET /some/path", "Traceback (most recent call last)", `raise ValueError("kaboom")`, "ValueError: kaboom"} {
			if !strings.Contains(log, want) {
				t.Errorf("error log lacks %q:\n%s", want, log)
			}
		}
	}, plainModes...)
}

// An exception after the head: the response is cut off, never completed.
func TestErrorAfterHead(t *testing.T) {
	run(t, "boom_after", Options{}, func(t *testing.T, tg *target) {
		resp, err := tg.client.Get(tg.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != 100 || (err == nil) == tg.cutShortVisible() {
			t.Errorf("%s, %d bytes, error %v: want 200, 100 bytes and a cut-off body (visible: %v)", resp.Status, len(body), err, tg.cutShortVisible())
		}
		if !strings.Contains(tg.log.String(), "ValueError: kaboom after the head") {
			t.Errorf("no traceback:\n%s", tg.log)
		}
	}, plainModes...)
}

// close() failing before anything was sent is a 500 like any other error;
// after the whole body went out, it is only logged.
func TestErrorInClose(t *testing.T) {
	run(t, "bad_close", Options{}, func(t *testing.T, tg *target) {
		if resp, _ := tg.get(t, "/"); resp.StatusCode != 500 {
			t.Errorf("nothing sent: %s", resp.Status)
		}
		if resp, body := tg.get(t, "/?body"); resp.StatusCode != 200 || body != "body" {
			t.Errorf("body sent: %s %q", resp.Status, body)
		}
		if n := strings.Count(tg.log.String(), "RuntimeError: close failed"); n != 2 {
			t.Errorf("logged %d times, want 2:\n%s", n, tg.log)
		}
	}, plainModes...)
}
