package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// --validate (or GOWSGI_VALIDATE) reaches the application: a violation is
// one log line naming the rule and the application's line, and a 500.
// Without it, only the server's own protocol checks run.
func TestValidateFlag(t *testing.T) {
	const where = "validate_apps.py:16: PEP 3333: the status must be a str"
	for name, opts := range map[string]struct {
		args []string
		env  []string
	}{
		"flag":        {args: []string{"--validate"}},
		"environment": {env: []string{"GOWSGI_VALIDATE=true"}},
	} {
		t.Run(name, func(t *testing.T) {
			args := append(opts.args, "--pythonpath", ".", "validate_apps:status_type")
			s := testutil.Start(t, testutil.Options{Env: opts.env}, args...)
			if status, _ := cliGet(t, s.URL+"/"); status != 500 {
				t.Errorf("status %d, want 500", status)
			}
			if !s.WaitLog("[ERROR] WSGI violation at ", 10*time.Second) || !strings.Contains(s.Log.String(), where) {
				t.Errorf("the log does not name %q:\n%s", where, s.Log)
			}
		})
	}

	s := testutil.Start(t, testutil.Options{}, "--pythonpath", ".", "validate_apps:header_tab")
	if status, _ := cliGet(t, s.URL+"/"); status != 200 {
		t.Errorf("without --validate a tab in a header value passes; got %d", status)
	}
	if strings.Contains(s.Log.String(), "WSGI violation") {
		t.Errorf("without --validate the validator ran:\n%s", s.Log)
	}

	out, err := exec.Command(testutil.Binary(t), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--validate") {
		t.Errorf("--help does not document --validate (%v):\n%s", err, out)
	}
}

// A real Flask application passes --validate: forms, uploads, JSON,
// streams and its own error pages break no rule.
func TestValidateFlask(t *testing.T) {
	s := testutil.Start(t, testutil.Options{},
		"--validate", "--chdir", filepath.Join(testutil.Testdata(), "flask"), "app:create_app()")
	post := func(path, contentType, body string) int {
		resp, err := cliClient.Post(s.URL+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "data.bin")
	fw.Write(bytes.Repeat([]byte("0123456789"), 10000))
	mw.WriteField("note", "a note")
	mw.Close()
	for _, c := range []struct {
		got, want int
		what      string
	}{
		{first(cliGet(t, s.URL+"/")), 200, "GET /"},
		{first(cliGet(t, s.URL+"/stream?chunks=5")), 200, "a stream"},
		{first(cliGet(t, s.URL+"/items/5000")), 404, "Flask's 404 page"},
		{post("/json", "application/json", `{"a": 1}`), 200, "JSON"},
		{post("/form", "application/x-www-form-urlencoded", "a=1&b=2"), 200, "a form"},
		{post("/upload", mw.FormDataContentType(), form.String()), 200, "an upload"},
		{post("/echo", "application/octet-stream", "raw body"), 200, "a raw body"},
	} {
		if c.got != c.want {
			t.Errorf("%s: status %d, want %d", c.what, c.got, c.want)
		}
	}
	if strings.Contains(s.Log.String(), "WSGI violation") {
		t.Errorf("the validator fired:\n%s", s.Log)
	}
}

func first(status int, _ string) int { return status }
