package gowsgi

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// markedLines maps the "# <- name" markers of testdata/validate_apps.py to
// their line numbers: the lines the violation log must name.
func markedLines(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open("testdata/validate_apps.py")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if _, name, ok := strings.Cut(sc.Text(), "# <- "); ok {
			lines[strings.TrimSpace(name)] = n
		}
	}
	return lines
}

// With Validate, each broken rule is one error log line naming the rule
// and the application's file and line, and a 500 when nothing was sent
// yet (else a cut-off response).
func TestValidateViolations(t *testing.T) {
	type tc struct {
		app   string
		rule  string
		abort bool   // the head was out: the response is cut off
		body  string // POSTed when set
	}
	cases := []tc{
		{app: "status_type", rule: "PEP 3333: the status must be a str such as '200 OK', not an int"},
		{app: "status_syntax", rule: "PEP 3333: the status must be a Status-Code and a Reason-Phrase separated by a single space"},
		{app: "status_whitespace", rule: "with no surrounding whitespace"},
		{app: "status_crlf", rule: "or control characters, such as '200 OK'"},
		{app: "headers_tuple", rule: "PEP 3333: response_headers must be a Python list"},
		{app: "header_item", rule: "must be a list of (header_name, header_value) tuples"},
		{app: "header_bytes", rule: "PEP 3333: header names and values must be of type str"},
		{app: "header_name", rule: "PEP 3333: each header_name must be a valid HTTP field-name"},
		{app: "header_name_trailing", rule: "not ending in '-' or '_'); got 'X-Trailing-'"},
		{app: "header_status", rule: "wsgiref.validate: the Status header cannot be used"},
		{app: "header_crlf", rule: "PEP 3333: each header_value must not include any control characters, including carriage returns or linefeeds"},
		{app: "header_tab", rule: "must not include any control characters"},
		{app: "hop_by_hop", rule: "PEP 3333: applications are forbidden from using HTTP/1.1 hop-by-hop headers; got 'Connection'"},
		{app: "content_length_syntax", rule: "RFC 9110: Content-Length must be a non-negative integer"},
		{app: "content_type_missing", rule: "wsgiref.validate: a Content-Type header is required in every response but 204 and 304"},
		{app: "content_type_204", rule: "wsgiref.validate: a 204 response has no content, so no Content-Type header"},
		{app: "keywords", rule: "PEP 3333: as with all WSGI callables, the arguments of start_response must be supplied positionally"},
		{app: "twice", rule: "PEP 3333: it is a fatal error to call start_response without the exc_info argument"},
		{app: "exc_info_type", rule: "PEP 3333: the exc_info argument, if supplied, must be a Python sys.exc_info() tuple"},
		{app: "exc_info_empty", rule: "called by an error handler; this one holds no exception"},
		{app: "exc_info_trapped", rule: "PEP 3333: the application must not trap any exceptions raised by start_response", abort: true},
		{app: "caught", rule: "the status must be a str"},
		{app: "write_str", rule: "PEP 3333: write() accepts a single bytestring, not a str"},
		{app: "write_in_iterable", rule: "PEP 3333: applications must not invoke write() from within their return iterable"},
		{app: "returns_str", rule: "not a str itself"},
		{app: "returns_bytes", rule: "not a bytes itself"},
		{app: "returns_none", rule: "even if only an empty list; it returned None"},
		{app: "returns_int", rule: "yielding bytestrings, not an int"},
		{app: "returns_itself", rule: "the application returned itself as its response iterable"},
		{app: "str_chunk", rule: "PEP 3333: the response iterable must yield bytestrings; item 1 of the returned list is a str"},
		{app: "str_chunk_stream", rule: "PEP 3333: the response iterable must yield bytestrings, not a str ('text')"},
		{app: "yield_before_start", rule: "PEP 3333: the application must call start_response() before the iterable yields its first body bytestring"},
		{app: "no_start", rule: "must call start_response() before it returns"},
		{app: "no_start_stream", rule: "must call start_response() before it returns"},
		{app: "longer", rule: "RFC 9110: the body is longer than the application's Content-Length (8 bytes so far, Content-Length: 3)"},
		{app: "longer_stream", rule: "the body is longer than the application's Content-Length (6 bytes so far, Content-Length: 4)", abort: true},
		{app: "shorter", rule: "RFC 9110: the body is shorter than the application's Content-Length (5 of 10 bytes)"},
		{app: "shorter_stream", rule: "the body is shorter than the application's Content-Length (5 of 10 bytes)", abort: true},
		{app: "body_204", rule: "RFC 9110: a 204 response has no content, but the application sends 7 body bytes"},
		{app: "read_size_type", rule: "PEP 3333: the size argument of wsgi.input.read() must be an int, not a str"},
		{app: "readline_size_type", rule: "the size argument of wsgi.input.readline() must be an int, not a float"},
		{app: "read_arguments", rule: "PEP 3333: wsgi.input.read() takes at most one argument, got 2"},
		{app: "read_past", rule: "PEP 3333: the application should not attempt to read more data than is specified by the CONTENT_LENGTH variable (wsgi.input.read() after the whole body was read and its end returned twice)", body: "the body"},
		{app: "read_after_response", rule: "PEP 3333: wsgi.input.read() after the response was closed"},
		{app: "input_close", rule: "PEP 3333: applications must not attempt to close the input or errors streams, even if they possess close() methods (wsgi.input.close())"},
		{app: "errors_close", rule: "(wsgi.errors.close())"},
		{app: "errors_bytes", rule: "PEP 3333: wsgi.errors.write() takes a str, not a bytes"},
	}
	lines := markedLines(t)
	for _, engine := range []bool{true, false} {
		for _, c := range cases {
			v := variant{engine: engine}
			t.Run(v.String()+"/"+c.app, func(t *testing.T) {
				line, ok := lines[c.app]
				if !ok {
					t.Fatalf("testdata/validate_apps.py has no marker for %s", c.app)
				}
				tg := serve(t, v, Options{App: "validate_apps:" + c.app, Validate: true})
				if c.app == "read_after_response" {
					if resp, _ := tg.get(t, "/"); resp.StatusCode != 200 {
						t.Fatalf("the first request: %s", resp.Status)
					}
				}
				checkViolationResponse(t, tg, c.body, c.abort)
				where := fmt.Sprintf("validate_apps.py:%d: ", line)
				var found []string
				for _, l := range strings.Split(tg.log.String(), "\n") {
					if strings.Contains(l, "WSGI violation at ") {
						found = append(found, l)
					}
				}
				if len(found) != 1 || !strings.Contains(found[0], where) || !strings.Contains(found[0], c.rule) ||
					!strings.Contains(found[0], "[ERROR]") {
					t.Errorf("want one error line naming %q and %q; log:\n%s", where, c.rule, tg.log)
				}
				if strings.Contains(tg.log.String(), "Traceback") {
					t.Errorf("a violation is one line, not a traceback:\n%s", tg.log)
				}
			})
		}
	}
}

// checkViolationResponse makes the request and checks it failed the way it
// must: a 500 when nothing was sent, else a response cut off after a 200
// head.
func checkViolationResponse(t *testing.T, tg *target, body string, abort bool) {
	t.Helper()
	method := "GET"
	var r io.Reader
	if body != "" {
		method, r = "POST", strings.NewReader(body)
	}
	if !abort {
		resp, got := tg.do(t, method, "/", r)
		if resp.StatusCode != 500 || got != "Internal Server Error\n" {
			t.Errorf("got %s %q, want a 500", resp.Status, got)
		}
		return
	}
	resp, err := tg.client.Get(tg.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Errorf("got %s, read error %v: want a 200 head and a cut-off body", resp.Status, err)
	}
}

// A correct application passes, using every part of the interface.
func TestValidateCorrect(t *testing.T) {
	for _, engine := range []bool{true, false} {
		v := variant{engine: engine}
		t.Run(v.String(), func(t *testing.T) {
			tg := serve(t, v, Options{App: "validate_apps:correct", Validate: true})
			for i := 0; i < 3; i++ {
				resp, body := tg.do(t, "POST", "/", strings.NewReader("line one\nthe rest"))
				if resp.StatusCode != 200 || body != "17 bytes" {
					t.Errorf("got %s %q", resp.Status, body)
				}
			}
			if strings.Contains(tg.log.String(), "WSGI violation") {
				t.Errorf("the validator fired:\n%s", tg.log)
			}
		})
	}
}
