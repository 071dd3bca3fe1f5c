package gowsgi

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A file with a descriptor goes out with sendfile: the file object's read()
// is never called. Behind the validator, which wraps the iterable, the
// server cannot see the file and reads it in blocks instead.
func TestFileWrapperSendfile(t *testing.T) {
	data := pattern(3<<20 + 123)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "file", Options{}, func(t *testing.T, tg *target) {
		reads := serve(t, variant{engine: true}, Options{App: "conformance:reads"})
		for _, c := range []struct {
			offset, length int
		}{{0, -1}, {1000, -1}, {0, 5000}, {len(data), -1}} {
			tag := tg.name + strconv.Itoa(c.offset) + "-" + strconv.Itoa(c.length)
			header := []string{"X-File", path, "X-Offset", strconv.Itoa(c.offset), "X-Tag", tag}
			want := data[c.offset:]
			if c.length >= 0 {
				header = append(header, "X-Length", strconv.Itoa(c.length))
				want = want[:c.length]
			}
			resp, body := tg.get(t, "/", header...)
			if resp.StatusCode != 200 || body != string(want) || resp.ContentLength != int64(len(want)) && !tg.validated {
				t.Errorf("offset %d length %d: %s, Content-Length %d, %d bytes (want %d)",
					c.offset, c.length, resp.Status, resp.ContentLength, len(body), len(want))
			}
			var n *int
			reads.getJSON(t, "/?"+tag, &n)
			if !tg.validated && n != nil {
				t.Errorf("offset %d length %d: read() called %d times: not sent with sendfile", c.offset, c.length, *n)
			}
			if tg.validated && len(want) > 0 && n == nil {
				t.Errorf("behind the validator the file should be read in blocks")
			}
		}
	})
	// A buffered reader that read ahead: the body starts at its position.
	run(t, "file_buffered", Options{}, func(t *testing.T, tg *target) {
		if _, body := tg.get(t, "/", "X-File", path); body != string(data[10:]) {
			t.Errorf("got %d bytes, want %d from offset 10", len(body), len(data)-10)
		}
	})
}

// File-likes without a descriptor are read in blocks of the size asked.
func TestFileWrapperFileLike(t *testing.T) {
	run(t, "filelike", Options{}, func(t *testing.T, tg *target) {
		// The reads are recorded in the interpreter the tests share: a tag
		// of this run's own keeps -count=N runs apart.
		tag := fmt.Sprintf("%s-%d", tg.name, time.Now().UnixNano())
		resp, body := tg.get(t, "/", "X-Tag", tag)
		want := ""
		for i := 0; i < 500; i++ {
			want += "0123456789"
		}
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("%s: %d bytes", resp.Status, len(body))
		}
		var sizes []int
		serve(t, variant{engine: true}, Options{App: "conformance:reads"}).getJSON(t, "/?"+tag, &sizes)
		if len(sizes) != 6 {
			t.Errorf("read sizes %v, want six reads of 1000", sizes)
		}
		for _, n := range sizes {
			if n != 1000 {
				t.Errorf("read(%d), want blocks of 1000", n)
			}
		}
	})
}

// A file-like whose read() returns something without a length is the
// application's error: a 500, and its own TypeError in the log (not one
// the wrapper made up from the object it should not have returned).
func TestFileWrapperBadRead(t *testing.T) {
	run(t, "filelike_bad", Options{}, func(t *testing.T, tg *target) {
		resp, _ := tg.get(t, "/")
		if resp.StatusCode != 500 {
			t.Errorf("%s, want 500", resp.Status)
		}
		waitFor(t, "the traceback", func() bool { return strings.Contains(tg.log.String(), "TypeError") })
		if log := tg.log.String(); !strings.Contains(log, "has no len()") || strings.Contains(log, "must yield bytes") {
			t.Errorf("the log does not name the read's result as the error:\n%s", log)
		}
	}, plainModes...)
}
