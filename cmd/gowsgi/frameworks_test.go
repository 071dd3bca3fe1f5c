package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// The Debian packages python3-flask and python3-django install into this
// interpreter's dist-packages, which the embedded libpython also sees.
const debianPython = "/usr/bin/python3"

// frameworkClient talks to one server. It keeps cookies and never follows
// redirects, so tests see the 302s themselves.
type frameworkClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newFrameworkClient(t *testing.T, base string) *frameworkClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &frameworkClient{
		t:    t,
		base: base,
		http: &http.Client{
			Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
			// Only a guard against a hung server, never a measurement.
			Timeout: 60 * time.Second,
		},
	}
}

// do sends req and returns the response with its whole body read.
func (c *frameworkClient) do(req *http.Request) (*http.Response, []byte) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func (c *frameworkClient) request(method, path, contentType string, body io.Reader) *http.Request {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func (c *frameworkClient) get(path string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(c.request("GET", path, "", nil))
}

func (c *frameworkClient) post(path, contentType string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(c.request("POST", path, contentType, bytes.NewReader(body)))
}

func (c *frameworkClient) postForm(path string, form url.Values) (*http.Response, []byte) {
	c.t.Helper()
	return c.post(path, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// cookie returns the value of the jar's cookie name for the server.
func (c *frameworkClient) cookie(name string) string {
	c.t.Helper()
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// wantFrameworkStatus fails the test unless resp has the status code want.
func wantFrameworkStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%.2000s",
			resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// decodeFrameworkJSON parses a JSON response body into a generic map.
func decodeFrameworkJSON(t *testing.T, resp *http.Response, body []byte) map[string]any {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want application/json; body:\n%.2000s", resp.Request.URL.Path, ct, body)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v; body:\n%.2000s", resp.Request.URL.Path, err, body)
	}
	return v
}

// wantFrameworkJSON compares one field of a decoded JSON object; want is in
// the shape encoding/json produces (float64 numbers, []any lists).
func wantFrameworkJSON(t *testing.T, v map[string]any, key string, want any) {
	t.Helper()
	if got := v[key]; !reflect.DeepEqual(got, want) {
		t.Errorf("JSON %q = %#v, want %#v (whole object: %v)", key, got, want, v)
	}
}

// frameworkPayload is size bytes of deterministic, incompressible-looking data:
// a SHA-256 chain, so a dropped, repeated or reordered block changes the hash.
func frameworkPayload(size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	block := sha256.Sum256([]byte("gowsgi framework test payload"))
	for len(out) < size {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:size]
}

func frameworkSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// frameworkMultipart builds a multipart/form-data body with the given
// fields and, if fileData is not nil, a file part named "file".
func frameworkMultipart(t *testing.T, fields [][2]string, fileName string, fileData []byte) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if fileData != nil {
		part, err := w.CreateFormFile("file", fileName)
		if err != nil {
			t.Fatal(err)
		}
		part.Write(fileData)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// frameworkChunkedBody returns a reader of data whose length the HTTP
// client cannot know, so it sends the request with Transfer-Encoding:
// chunked. A pipe writer delivers it in uneven pieces.
func frameworkChunkedBody(data []byte) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		rest := data
		for piece := 1; len(rest) > 0; piece = piece*3 + 7 {
			n := min(piece, len(rest))
			if _, err := pw.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		pw.Close()
	}()
	return pr
}

// postChunked sends data to path as a chunked request body without
// Content-Length, and checks from the header fields the client wrote that
// the request really went out that way.
func (c *frameworkClient) postChunked(path string, data []byte) (*http.Response, []byte) {
	c.t.Helper()
	req := c.request("POST", path, "application/octet-stream", frameworkChunkedBody(data))
	req.ContentLength = -1
	var mu sync.Mutex
	sent := map[string][]string{}
	trace := &httptrace.ClientTrace{
		WroteHeaderField: func(key string, value []string) {
			mu.Lock()
			defer mu.Unlock()
			sent[http.CanonicalHeaderKey(key)] = value
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, body := c.do(req)
	mu.Lock()
	defer mu.Unlock()
	if te := sent["Transfer-Encoding"]; !reflect.DeepEqual(te, []string{"chunked"}) {
		c.t.Fatalf("POST %s: client sent Transfer-Encoding %q, want chunked", path, te)
	}
	if cl, ok := sent["Content-Length"]; ok {
		c.t.Fatalf("POST %s: client sent Content-Length %q with a chunked body", path, cl)
	}
	return resp, body
}

// checkFrameworkEcho posts data chunked to an echo view and checks that the
// application received exactly those bytes.
func checkFrameworkEcho(t *testing.T, c *frameworkClient, path string, data []byte) {
	t.Helper()
	resp, body := c.postChunked(path, data)
	wantFrameworkStatus(t, resp, body, http.StatusOK)
	v := decodeFrameworkJSON(t, resp, body)
	wantFrameworkJSON(t, v, "size", float64(len(data)))
	wantFrameworkJSON(t, v, "sha256", frameworkSHA256(data))
}

// checkFrameworkStream fetches a streamed response and checks that it came
// chunked, without Content-Length, and complete.
func checkFrameworkStream(t *testing.T, c *frameworkClient, path, want string) {
	t.Helper()
	resp, body := c.get(path)
	wantFrameworkStatus(t, resp, body, http.StatusOK)
	if !reflect.DeepEqual(resp.TransferEncoding, []string{"chunked"}) {
		t.Errorf("%s: Transfer-Encoding %v, want [chunked]", path, resp.TransferEncoding)
	}
	if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
		t.Errorf("%s: Content-Length %d (%q), want none", path, resp.ContentLength, resp.Header.Get("Content-Length"))
	}
	if string(body) != want {
		t.Errorf("%s: body of %d bytes differs from the expected %d bytes; starts %.200q", path, len(body), len(want), body)
	}
}

// checkFrameworkUpload posts a multipart file upload and checks the size
// and hash the application computed.
func checkFrameworkUpload(t *testing.T, c *frameworkClient, path string, fields [][2]string, data []byte) map[string]any {
	t.Helper()
	ct, body := frameworkMultipart(t, fields, "payload.bin", data)
	resp, respBody := c.post(path, ct, body)
	wantFrameworkStatus(t, resp, respBody, http.StatusOK)
	v := decodeFrameworkJSON(t, resp, respBody)
	wantFrameworkJSON(t, v, "filename", "payload.bin")
	wantFrameworkJSON(t, v, "size", float64(len(data)))
	wantFrameworkJSON(t, v, "sha256", frameworkSHA256(data))
	return v
}

// frameworkLines is what the streaming views send: format applied to
// 0..n-1, one per line.
func frameworkLines(format string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, format+"\n", i)
	}
	return b.String()
}

// Flask from Debian's package and PyPI's current release.
func TestFlask(t *testing.T) {
	for _, e := range frameworkEnvs(t) {
		t.Run(e.name, func(t *testing.T) {
			// Started from testdata/: only --chdir makes app.py importable.
			s := e.start(t, testutil.Options{},
				"--threads", "4", "--chdir", filepath.Join(testutil.Testdata(), "flask"), "app:create_app()")
			e.checkVersion(t, s.URL, "/version", "flask")
			testFlask(t, s)
		})
	}
}

func testFlask(t *testing.T, s *testutil.Server) {
	c := newFrameworkClient(t, s.URL)

	t.Run("Routing", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		resp, body := c.get("/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if string(body) != "flask index" {
			t.Errorf("GET /: body %q", body)
		}

		// The URL variable arrives percent-decoded.
		resp, body = c.get("/hello/Gopher%20World")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if string(body) != "Hello, Gopher World!" {
			t.Errorf("GET /hello/Gopher%%20World: body %q", body)
		}

		resp, body = c.get("/items/21")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "id", float64(21))
		wantFrameworkJSON(t, v, "double", float64(42))

		for _, path := range []string{"/no/such/page", "/items/abc", "/items/5000", "/hello/"} {
			resp, body := c.get(path)
			wantFrameworkStatus(t, resp, body, http.StatusNotFound)
		}

		// A known route with the wrong method.
		resp, body = c.post("/hello/x", "text/plain", []byte("x"))
		wantFrameworkStatus(t, resp, body, http.StatusMethodNotAllowed)
	})

	t.Run("FormURLEncoded", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		form := url.Values{"color": {"red", "green"}, "text": {"a&b=c ü+"}, "empty": {""}}
		resp, body := c.postForm("/form", form)
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "fields", map[string]any{
			"color": []any{"red", "green"},
			"text":  []any{"a&b=c ü+"},
			"empty": []any{""},
		})
		wantFrameworkJSON(t, v, "content_type", "application/x-www-form-urlencoded")
	})

	t.Run("FormMultipart", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		ct, body := frameworkMultipart(t, [][2]string{{"color", "red"}, {"color", "blue"}, {"text", "line1\r\nline2 ü"}}, "", nil)
		resp, respBody := c.post("/form", ct, body)
		wantFrameworkStatus(t, resp, respBody, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, respBody)
		wantFrameworkJSON(t, v, "fields", map[string]any{
			"color": []any{"red", "blue"},
			"text":  []any{"line1\r\nline2 ü"},
		})
		wantFrameworkJSON(t, v, "content_type", "multipart/form-data")
	})

	testJSONUploadsStreams(t, s)

	t.Run("Exception", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		// Flask logs the exception to wsgi.errors, which is the error log.
		checkFrameworkError(t, c, s, "/error", "Exception on /error [GET]", "RuntimeError: deliberate failure in flask view")
		// The server keeps serving, also a second failure.
		resp, body := c.get("/error")
		wantFrameworkStatus(t, resp, body, http.StatusInternalServerError)
		resp, body = c.get("/hello/again")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if string(body) != "Hello, again!" {
			t.Errorf("after the exception: body %q", body)
		}
	})

	// Still the same process, still answering.
	resp, body := c.get("/")
	wantFrameworkStatus(t, resp, body, http.StatusOK)
	checkFrameworkServerHealthy(t, s)
}

// testJSONUploadsStreams checks the routes that the Flask and Falcon
// applications share: a JSON echo, multipart uploads, a streamed
// download, chunked and ordinary request bodies, all at once.
func testJSONUploadsStreams(t *testing.T, s *testutil.Server) {
	t.Run("JSON", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		in := `{"name": "gowsgi", "count": 3, "tags": ["a", "ü", "日本"], "nested": {"ok": true}}`
		resp, body := c.post("/json", "application/json", []byte(in))
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		var want map[string]any
		json.Unmarshal([]byte(in), &want)
		wantFrameworkJSON(t, v, "received", want)
		wantFrameworkJSON(t, v, "keys", []any{"count", "name", "nested", "tags"})
		wantFrameworkJSON(t, v, "content_type", "application/json")

		// Malformed JSON is the client's error, not the server's.
		resp, body = c.post("/json", "application/json", []byte(`{"name": `))
		wantFrameworkStatus(t, resp, body, http.StatusBadRequest)
	})

	t.Run("Upload", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		for _, size := range []int{0, 1, 1000, 3<<20 + 17} {
			v := checkFrameworkUpload(t, c, "/upload", [][2]string{{"note", fmt.Sprintf("size %d", size)}}, frameworkPayload(size))
			wantFrameworkJSON(t, v, "note", fmt.Sprintf("size %d", size))
		}
	})

	t.Run("StreamedDownload", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		checkFrameworkStream(t, c, "/stream", frameworkLines("chunk %04d", 200))
		// Flask's generator reads request.args after the view has returned.
		checkFrameworkStream(t, c, "/stream?chunks=5&prefix=part", frameworkLines("part %04d", 5))
	})

	t.Run("ChunkedUpload", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		for _, size := range []int{1, 100, 64 << 10, 5<<20 + 3} {
			checkFrameworkEcho(t, c, "/echo", frameworkPayload(size))
		}
		// An ordinary body with Content-Length goes through the same route.
		data := frameworkPayload(12345)
		resp, body := c.post("/echo", "application/octet-stream", data)
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "size", float64(len(data)))
		wantFrameworkJSON(t, v, "sha256", frameworkSHA256(data))
		wantFrameworkJSON(t, v, "content_length", "12345")
	})

	t.Run("Concurrent", func(t *testing.T) {
		// More clients at once than the server has Python threads.
		checkFrameworkConcurrently(t, s.URL, []func(*testing.T, *frameworkClient){
			func(t *testing.T, c *frameworkClient) { checkFrameworkEcho(t, c, "/echo", frameworkPayload(256<<10)) },
			func(t *testing.T, c *frameworkClient) {
				checkFrameworkStream(t, c, "/stream", frameworkLines("chunk %04d", 200))
			},
			func(t *testing.T, c *frameworkClient) {
				checkFrameworkUpload(t, c, "/upload", nil, frameworkPayload(200<<10))
			},
		})
	})

}

// checkFrameworkError gets a view that raises: a 500, and the traceback
// with these lines in the error log.
func checkFrameworkError(t *testing.T, c *frameworkClient, s *testutil.Server, path string, lines ...string) {
	t.Helper()
	resp, body := c.get(path)
	wantFrameworkStatus(t, resp, body, http.StatusInternalServerError)
	for _, want := range append([]string{"Traceback (most recent call last):"}, lines...) {
		if !s.WaitLog(want, 10*time.Second) {
			t.Errorf("error log lacks %q:\n%s", want, s.Log)
		}
	}
}

// checkFrameworkConcurrently runs every check from several goroutines at once, each
// with its own client and connections.
func checkFrameworkConcurrently(t *testing.T, base string, checks []func(*testing.T, *frameworkClient)) {
	t.Helper()
	const rounds = 4
	for i := 0; i < rounds; i++ {
		for j, check := range checks {
			check := check
			t.Run(fmt.Sprintf("%d-%d", i, j), func(t *testing.T) {
				t.Parallel()
				check(t, newFrameworkClient(t, base))
			})
		}
	}
}

// checkFrameworkServerHealthy fails the test if the server has exited or,
// when built with the race detector, has reported a data race (which it
// prints without exiting).
func checkFrameworkServerHealthy(t *testing.T, s *testutil.Server) {
	t.Helper()
	if code := s.Wait(0); code != -1 {
		t.Fatalf("server exited with status %d:\n%s", code, s.Log)
	}
	if strings.Contains(s.Log.String(), "WARNING: DATA RACE") {
		t.Fatalf("the server reported a data race:\n%s", s.Log)
	}
}

// djangoProjectDir is the test Django project.
func djangoProjectDir() string { return filepath.Join(testutil.Testdata(), "django") }

const (
	djangoAdminUser     = "admin"
	djangoAdminPassword = "gowsgi-admin-password"
)

// prepareDjangoDB creates a migrated SQLite database with a superuser in a
// temporary directory, with python's Django, and returns the environment
// that points to it.
func prepareDjangoDB(t *testing.T, python string) []string {
	t.Helper()
	env := []string{"GOWSGI_TEST_DJANGO_DB=" + filepath.Join(t.TempDir(), "db.sqlite3")}
	manage := func(args ...string) {
		t.Helper()
		cmd := exec.Command(python, append([]string{"manage.py"}, args...)...)
		cmd.Dir = djangoProjectDir()
		cmd.Env = append(testutil.CleanEnv(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("manage.py %s: %v\n%s", args[0], err, out)
		}
	}
	manage("migrate", "--noinput")
	manage("shell", "-c", fmt.Sprintf(
		"from django.contrib.auth import get_user_model; "+
			"get_user_model().objects.create_superuser(%q, 'admin@example.com', %q)",
		djangoAdminUser, djangoAdminPassword))
	return env
}

// djangoCSRFInput finds the token of the csrfmiddlewaretoken input in a form.
var djangoCSRFInput = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

// Django from Debian's package and PyPI's current releases: 6 on Python
// 3.13, 5.2 (the newest for it) on Debian's 3.11.
func TestDjango(t *testing.T) {
	for _, e := range frameworkEnvs(t) {
		t.Run(e.name, func(t *testing.T) {
			env := prepareDjangoDB(t, e.python)
			s := e.start(t, testutil.Options{Dir: djangoProjectDir(), Env: env},
				"--threads", "4", "testsite.wsgi:application")
			e.checkVersion(t, s.URL, "/version/", "django")
			testDjango(t, s)
		})
	}
}

func testDjango(t *testing.T, s *testutil.Server) {

	t.Run("AdminLogin", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)

		// Not logged in: the admin sends us to its login page.
		resp, body := c.get("/admin/")
		wantFrameworkStatus(t, resp, body, http.StatusFound)
		if loc := resp.Header.Get("Location"); loc != "/admin/login/?next=/admin/" {
			t.Errorf("GET /admin/: Location %q", loc)
		}

		resp, body = c.get("/admin/login/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		m := djangoCSRFInput.FindSubmatch(body)
		if m == nil {
			t.Fatalf("login page has no csrfmiddlewaretoken:\n%.3000s", body)
		}
		token := string(m[1])
		if c.cookie("csrftoken") == "" {
			t.Fatalf("login page set no csrftoken cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
		}

		// A wrong password renders the form again with an error.
		resp, body = c.postForm("/admin/login/", url.Values{
			"csrfmiddlewaretoken": {token},
			"username":            {djangoAdminUser},
			"password":            {"wrong"},
			"next":                {"/admin/"},
		})
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if !bytes.Contains(body, []byte("Please enter the correct username and password")) {
			t.Errorf("wrong password: page lacks the error message:\n%.3000s", body)
		}

		resp, body = c.postForm("/admin/login/", url.Values{
			"csrfmiddlewaretoken": {token},
			"username":            {djangoAdminUser},
			"password":            {djangoAdminPassword},
			"next":                {"/admin/"},
		})
		wantFrameworkStatus(t, resp, body, http.StatusFound)
		if loc := resp.Header.Get("Location"); loc != "/admin/" {
			t.Errorf("login: Location %q, want /admin/", loc)
		}
		if c.cookie("sessionid") == "" {
			t.Fatalf("login set no sessionid cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
		}

		resp, body = c.get("/admin/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if !bytes.Contains(body, []byte("Site administration")) {
			t.Errorf("GET /admin/ lacks \"Site administration\":\n%.3000s", body)
		}

		// A page that reads the database: the user list shows the superuser.
		resp, body = c.get("/admin/auth/user/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		if !bytes.Contains(body, []byte(">"+djangoAdminUser+"<")) {
			t.Errorf("user list lacks %q:\n%.3000s", djangoAdminUser, body)
		}
	})

	t.Run("AdminLoginWithoutCSRF", func(t *testing.T) {
		login := url.Values{"username": {djangoAdminUser}, "password": {djangoAdminPassword}}

		// No cookie and no token.
		c := newFrameworkClient(t, s.URL)
		resp, body := c.postForm("/admin/login/", login)
		wantFrameworkStatus(t, resp, body, http.StatusForbidden)

		// The cookie alone is not enough either.
		c = newFrameworkClient(t, s.URL)
		resp, body = c.get("/admin/login/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		resp, body = c.postForm("/admin/login/", login)
		wantFrameworkStatus(t, resp, body, http.StatusForbidden)
		if c.cookie("sessionid") != "" {
			t.Errorf("a rejected login created a session")
		}
	})

	t.Run("JSON", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		resp, body := c.get("/json/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "framework", "django")
		wantFrameworkJSON(t, v, "path", "/json/")

		in := `{"b": [1, 2.5, null], "a": "ü 日本", "c": {"d": false}}`
		resp, body = c.post("/json/", "application/json", []byte(in))
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v = decodeFrameworkJSON(t, resp, body)
		var want map[string]any
		json.Unmarshal([]byte(in), &want)
		wantFrameworkJSON(t, v, "received", want)
		wantFrameworkJSON(t, v, "keys", []any{"a", "b", "c"})

		resp, body = c.post("/json/", "application/json", []byte(`{"a": `))
		wantFrameworkStatus(t, resp, body, http.StatusBadRequest)
	})

	t.Run("FormWithCSRF", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		resp, body := c.get("/form/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		token, _ := decodeFrameworkJSON(t, resp, body)["csrftoken"].(string)
		if token == "" || c.cookie("csrftoken") == "" {
			t.Fatalf("GET /form/: token %q, cookie %q", token, c.cookie("csrftoken"))
		}

		form := url.Values{"csrfmiddlewaretoken": {token}, "color": {"red", "green"}, "text": {"a&b=c ü+"}}
		resp, body = c.postForm("/form/", form)
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v := decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "fields", map[string]any{
			"color": []any{"red", "green"},
			"text":  []any{"a&b=c ü+"},
		})
		wantFrameworkJSON(t, v, "content_type", "application/x-www-form-urlencoded")

		ct, mp := frameworkMultipart(t, [][2]string{{"csrfmiddlewaretoken", token}, {"color", "blue"}, {"text", "x\r\ny"}}, "", nil)
		resp, body = c.post("/form/", ct, mp)
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		v = decodeFrameworkJSON(t, resp, body)
		wantFrameworkJSON(t, v, "fields", map[string]any{
			"color": []any{"blue"},
			"text":  []any{"x\r\ny"},
		})
		wantFrameworkJSON(t, v, "content_type", "multipart/form-data")

		// The token may also come in the X-CSRFToken header.
		req := c.request("POST", "/form/", "application/x-www-form-urlencoded", strings.NewReader("color=teal"))
		req.Header.Set("X-CSRFToken", token)
		resp, body = c.do(req)
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		wantFrameworkJSON(t, decodeFrameworkJSON(t, resp, body), "fields", map[string]any{"color": []any{"teal"}})

		// Without the token, with the cookie.
		resp, body = c.postForm("/form/", url.Values{"color": {"red"}})
		wantFrameworkStatus(t, resp, body, http.StatusForbidden)
		// With a token but no cookie.
		fresh := newFrameworkClient(t, s.URL)
		resp, body = fresh.postForm("/form/", form)
		wantFrameworkStatus(t, resp, body, http.StatusForbidden)
	})

	t.Run("Upload", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		// Below FILE_UPLOAD_MAX_MEMORY_SIZE the upload stays in memory,
		// above it Django spools it to a temporary file.
		for _, tc := range []struct {
			size    int
			handler string
		}{
			{1, "InMemoryUploadedFile"},
			{1000, "InMemoryUploadedFile"},
			{3<<20 + 17, "TemporaryUploadedFile"},
		} {
			note := fmt.Sprintf("size %d", tc.size)
			v := checkFrameworkUpload(t, c, "/upload/", [][2]string{{"note", note}}, frameworkPayload(tc.size))
			wantFrameworkJSON(t, v, "handler", tc.handler)
			wantFrameworkJSON(t, v, "note", note)
		}
	})

	t.Run("StreamingHttpResponse", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		checkFrameworkStream(t, c, "/stream/", frameworkLines("line %04d", 200))
		checkFrameworkStream(t, c, "/stream/?chunks=3", frameworkLines("line %04d", 3))
	})

	t.Run("ChunkedUpload", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		for _, size := range []int{1, 100, 64 << 10, 5<<20 + 3} {
			checkFrameworkEcho(t, c, "/echo/", frameworkPayload(size))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		checkFrameworkConcurrently(t, s.URL, []func(*testing.T, *frameworkClient){
			func(t *testing.T, c *frameworkClient) { checkFrameworkEcho(t, c, "/echo/", frameworkPayload(256<<10)) },
			func(t *testing.T, c *frameworkClient) {
				checkFrameworkStream(t, c, "/stream/", frameworkLines("line %04d", 200))
			},
			func(t *testing.T, c *frameworkClient) {
				v := checkFrameworkUpload(t, c, "/upload/", nil, frameworkPayload(300<<10))
				wantFrameworkJSON(t, v, "handler", "TemporaryUploadedFile")
			},
			func(t *testing.T, c *frameworkClient) {
				// A session write per request: the login page's CSRF
				// cookie and the database behind the admin.
				resp, body := c.get("/admin/login/")
				wantFrameworkStatus(t, resp, body, http.StatusOK)
			},
		})
	})

	t.Run("Errors", func(t *testing.T) {
		c := newFrameworkClient(t, s.URL)
		resp, body := c.get("/no/such/page/")
		wantFrameworkStatus(t, resp, body, http.StatusNotFound)

		// ALLOWED_HOSTS rejects other Host headers.
		req := c.request("GET", "/json/", "", nil)
		req.Host = "evil.example"
		resp, body = c.do(req)
		wantFrameworkStatus(t, resp, body, http.StatusBadRequest)

		checkFrameworkError(t, c, s, "/error/", "Internal Server Error: /error/", "RuntimeError: deliberate failure in django view")

		resp, body = c.get("/json/")
		wantFrameworkStatus(t, resp, body, http.StatusOK)
		wantFrameworkJSON(t, decodeFrameworkJSON(t, resp, body), "framework", "django")
	})

	checkFrameworkServerHealthy(t, s)
}
