package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// An app of the benchmark: its wrk script and the check of its answer.
type app struct {
	name    string
	script  string // wrk Lua script, relative to bench/lua
	threads int    // Python threads for the servers that have threads (0: the run's)
	check   func(url string) error
	// timeout after which wrk counts a request as an error (default
	// 10s): 64 clients sharing the link for 100 MiB each take longer.
	timeout time.Duration
}

// inRun tells whether the application is part of the pinned run of
// suffix: one with its own threads (sleep's 64) is not run again with
// more threads, which would be the same run.
func (a app) inRun(suffix string) bool { return suffix == "" || a.threads == 0 }

func (a app) wrkTimeout() time.Duration {
	if a.timeout > 0 {
		return a.timeout
	}
	return 10 * time.Second
}

func apps(fileSize int64) []app {
	return []app{
		{name: "hello", check: expectBody("Hello, world!")},
		{name: "json", check: checkJSON},
		{name: "environ_heavy", script: "headers.lua", check: checkHeaders},
		{name: "upload", script: "upload.lua", check: checkUpload},
		{name: "stream", check: expectLength(16*65536, false)},
		{name: "big", check: expectLength(4<<20, true)},
		{name: "sleep", threads: 64, check: expectBody("slept")},
		{name: "file", timeout: 60 * time.Second, check: expectLength(fileSize, true)},
	}
}

var client = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 60 * time.Second}

func get(req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	// An idle keep-alive connection would hold the only thread of a
	// server that serves one connection per thread (uWSGI's http11).
	defer client.CloseIdleConnections()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, body, fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != 200 {
		return resp, body, fmt.Errorf("status %s", resp.Status)
	}
	return resp, body, nil
}

func expectBody(want string) func(string) error {
	return func(url string) error {
		req, _ := http.NewRequest("GET", url, nil)
		_, body, err := get(req)
		if err == nil && string(body) != want {
			err = fmt.Errorf("body %q, want %q", body, want)
		}
		return err
	}
}

// expectLength checks the body's length, and whether the answer announced
// it (Content-Length) or streamed it.
func expectLength(n int64, announced bool) func(string) error {
	return func(url string) error {
		req, _ := http.NewRequest("GET", url, nil)
		resp, body, err := get(req)
		switch {
		case err != nil:
			return err
		case int64(len(body)) != n:
			return fmt.Errorf("%d bytes, want %d", len(body), n)
		case announced && resp.ContentLength != n:
			return fmt.Errorf("Content-Length %d, want %d", resp.ContentLength, n)
		}
		return nil
	}
}

func checkJSON(url string) error {
	req, _ := http.NewRequest("GET", url, nil)
	resp, body, err := get(req)
	if err != nil {
		return err
	}
	var v struct{ Items []map[string]any }
	if err := json.Unmarshal(body, &v); err != nil || len(v.Items) != 14 ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("not the expected JSON (%v): %.80q", err, body)
	}
	if len(body) < 900 || len(body) > 1200 {
		return fmt.Errorf("JSON of %d bytes, want about 1 KB", len(body))
	}
	return nil
}

func checkHeaders(url string) error {
	req, _ := http.NewRequest("GET", url, nil)
	want := 0
	for i := 0; i < 10; i++ {
		v := fmt.Sprintf("value-number-%d", i)
		req.Header.Set(fmt.Sprintf("X-Header-%d", i), v)
		want += len(v)
	}
	_, body, err := get(req)
	if err == nil && string(body) != fmt.Sprint(want) {
		err = fmt.Errorf("the application saw %s header bytes, want %d", body, want)
	}
	return err
}

func checkUpload(url string) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(bytes.Repeat([]byte("u"), 1<<20)))
	_, body, err := get(req)
	if err == nil && string(body) != "1048576" {
		err = fmt.Errorf("the application read %s bytes, want 1048576", body)
	}
	return err
}

// makeFile writes the file the "file" application sends.
func makeFile(path string, size int64) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	block := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for written := int64(0); written < size; written += int64(len(block)) {
		if _, err := f.Write(block[:min(int64(len(block)), size-written)]); err != nil {
			return err
		}
	}
	return nil
}
