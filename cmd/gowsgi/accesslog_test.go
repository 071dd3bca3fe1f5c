package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// What clients send cannot forge an access log line: '"' and '\' are
// escaped, control characters written \u00HH, so a JSON format stays JSON
// with the client's own text in its field; an unknown atom is "-", as in
// gunicorn; %({NAME}e)s is an environ variable.
func TestAccessLogEscaping(t *testing.T) {
	format := `{"ua":"%(a)s","r":"%(r)s","tag":"%({x-tag}i)s","nope":"%(X)s","addr":"%({remote_addr}e)s",` +
		`"scheme":"%({wsgi.url_scheme}e)s","missing":"%({NO_SUCH_VAR}e)s"}`
	s := testutil.Start(t, testutil.Options{}, "--access-logfile", "-", "--access-logformat", format,
		"--pythonpath", ".", "conformance:hello")
	agent := `Mo"zilla\", "forged":"yes`
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /p?q=\"x\" HTTP/1.1\r\nHost: h\r\nUser-Agent: "+agent+"\r\nX-Tag: a\tb\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var line string
	waitFor(t, "the access log line", func() bool {
		for _, l := range strings.Split(s.Log.String(), "\n") {
			if strings.HasPrefix(l, "{") {
				line = l
				return true
			}
		}
		return false
	})
	var got map[string]string
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("the line is not JSON any more (%v): %s", err, line)
	}
	want := map[string]string{"ua": agent, "r": `GET /p?q="x" HTTP/1.1`, "tag": "a\tb", "nope": "-",
		"addr": "127.0.0.1", "scheme": "http", "missing": "-"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (line %s)", k, got[k], v, line)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v: the client added some", got)
	}
}
