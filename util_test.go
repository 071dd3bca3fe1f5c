package gowsgi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// Environ gives what the application sees for the same request, apart
// from the wsgi.* objects.
func TestEnvironForGoTests(t *testing.T) {
	app, _, _ := newApp(t, Options{App: "conformance:environ", ScriptName: "/legacy"})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest("POST", srv.URL+"/legacy/a%20b/%FF?x=1&y=%20", strings.NewReader("hello"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Custom", "one")
	req.Header.Add("X-Custom", "two")
	req.Header.Set("X_Spoofed", "dropped")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seen map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
		t.Fatal(err)
	}

	// The same request as a handler would receive it.
	in := httptest.NewRequest("POST", "/legacy/a%20b/%FF?x=1&y=%20", strings.NewReader("hello"))
	in.Host = strings.TrimPrefix(srv.URL, "http://")
	in.RemoteAddr = seen["REMOTE_ADDR"].(string) + ":" + seen["REMOTE_PORT"].(string)
	in.Header = req.Header.Clone()
	env, err := Environ(in, "/legacy")
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range seen {
		s, ok := value.(string)
		if !ok || key == "body" || key == "HTTP_ACCEPT_ENCODING" || key == "HTTP_USER_AGENT" {
			continue // not a str, or set by the client above but not in req
		}
		if key == "wsgi.url_scheme" || !strings.HasPrefix(key, "wsgi.") {
			// Python's latin-1 str is the same bytes as Go's string.
			if got := latin1(env[key]); got != s {
				t.Errorf("%s: Environ %q, application %q", key, got, s)
			}
		}
	}
	for _, key := range []string{"PATH_INFO", "SCRIPT_NAME", "HTTP_X_CUSTOM", "CONTENT_LENGTH", "SERVER_SOFTWARE"} {
		if _, ok := env[key]; !ok {
			t.Errorf("Environ has no %s: %v", key, env)
		}
	}
	if env["PATH_INFO"] != "/a b/\xff" || env["HTTP_X_CUSTOM"] != "one, two" {
		t.Errorf("PATH_INFO %q, HTTP_X_CUSTOM %q", env["PATH_INFO"], env["HTTP_X_CUSTOM"])
	}
	if _, ok := env["HTTP_X_SPOOFED"]; ok {
		t.Errorf("a header name with '_' reached the environ")
	}

	if _, err := Environ(httptest.NewRequest("GET", "/other", nil), "/legacy"); !errors.Is(err, ErrOutsidePrefix) {
		t.Errorf("outside the prefix: %v", err)
	}
}

// latin1 is Go's view of a Python str holding latin-1 characters.
func latin1(s string) string {
	b := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		b[i] = rune(s[i])
	}
	return string(b)
}

// ApplicationURI, RequestURI and ShiftPathInfo give what Python's
// wsgiref.util gives for the same environ.
func TestUtilMatchesWsgiref(t *testing.T) {
	cases := []map[string]string{
		{"wsgi.url_scheme": "http", "HTTP_HOST": "example.com", "SCRIPT_NAME": "", "PATH_INFO": "/a/b", "QUERY_STRING": "x=1"},
		{"wsgi.url_scheme": "https", "SERVER_NAME": "example.com", "SERVER_PORT": "443", "SCRIPT_NAME": "/app", "PATH_INFO": "/x y;z=1,2"},
		{"wsgi.url_scheme": "https", "SERVER_NAME": "example.com", "SERVER_PORT": "8443", "SCRIPT_NAME": "/app", "PATH_INFO": ""},
		{"wsgi.url_scheme": "http", "SERVER_NAME": "h", "SERVER_PORT": "80", "SCRIPT_NAME": "", "PATH_INFO": "/caf\xe9/%/~", "QUERY_STRING": ""},
		{"wsgi.url_scheme": "http", "SERVER_NAME": "h", "SERVER_PORT": "8000", "SCRIPT_NAME": "/a", "PATH_INFO": "/b//./c/"},
		{"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "", "PATH_INFO": "/"},
		{"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "/a", "PATH_INFO": "/./b"},
		{"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "/a", "PATH_INFO": "/../b"},
		{"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "", "PATH_INFO": "//x"},
		{"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "/", "PATH_INFO": "/x/"},
		{"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "", "PATH_INFO": ""},
	}
	type result struct {
		Application, Request, RequestNoQuery string
		Shifted                              *string
		Script, Path                         string
	}
	// Python side: the same environs, through wsgiref.util. Values travel
	// as latin-1 text.
	var in []map[string]string
	for _, env := range cases {
		m := map[string]string{}
		for k, v := range env {
			m[k] = latin1(v)
		}
		in = append(in, m)
	}
	input, _ := json.Marshal(in)
	cmd := exec.Command("/usr/bin/python3", "-c", `
import json, sys
from wsgiref import util
out = []
for env in json.load(sys.stdin):
    r = {"Application": util.application_uri(env), "Request": util.request_uri(env),
         "RequestNoQuery": util.request_uri(env, include_query=False)}
    r["Shifted"] = util.shift_path_info(env)
    r["Script"], r["Path"] = env["SCRIPT_NAME"], env["PATH_INFO"]
    out.append(r)
json.dump(out, sys.stdout)
`)
	cmd.Stdin = strings.NewReader(string(input))
	output, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want []result
	if err := json.Unmarshal(output, &want); err != nil {
		t.Fatal(err)
	}
	for i, env := range cases {
		got := result{Application: ApplicationURI(env), Request: RequestURI(env, true), RequestNoQuery: RequestURI(env, false)}
		if name, ok := ShiftPathInfo(env); ok {
			got.Shifted = &name
		}
		got.Script, got.Path = latin1(env["SCRIPT_NAME"]), latin1(env["PATH_INFO"])
		w := want[i]
		if got.Application != w.Application || got.Request != w.Request || got.RequestNoQuery != w.RequestNoQuery ||
			got.Script != w.Script || got.Path != w.Path || (got.Shifted == nil) != (w.Shifted == nil) ||
			(got.Shifted != nil && latin1(*got.Shifted) != *w.Shifted) {
			t.Errorf("case %d %q:\n got %+v %v\nwant %+v %v", i, in[i], got, deref(got.Shifted), w, deref(w.Shifted))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<None>"
	}
	return *s
}
