package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

const gib = 1 << 30

// memoryBudget is how far the server's peak RSS may rise above idle while
// 1 GiB passes through it: a body held in memory would take the whole GiB.
const memoryBudget = 64 << 20

// measurePeak resets the server's peak RSS after a warm-up request, runs
// f, and returns how far the peak rose.
func measurePeak(t *testing.T, s *testutil.Server, warmUp func(), f func()) int64 {
	t.Helper()
	warmUp()
	idle, _ := s.RSS()
	if err := s.ResetPeak(); err != nil {
		t.Fatalf("resetting the peak RSS: %v", err)
	}
	f()
	_, peak := s.RSS()
	t.Logf("idle RSS %d MiB, peak %d MiB", idle>>20, peak>>20)
	return peak - idle
}

// A 1 GiB generator response streams: the server's memory stays flat.
func TestMemoryFlatOnHugeResponse(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--pythonpath", ".", "conformance:big_stream")
	fetch := func(mib int) int64 {
		resp, err := http.Get(fmt.Sprintf("%s/?%d", s.URL, mib))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var n int64
	rise := measurePeak(t, s, func() { fetch(4) }, func() { n = fetch(1024) })
	if n != gib {
		t.Fatalf("received %d bytes, want 1 GiB", n)
	}
	if rise > memoryBudget {
		t.Errorf("peak RSS rose by %d MiB while streaming 1 GiB", rise>>20)
	}
}

// A 1 GiB upload, with a length or chunked, never sits in memory.
func TestMemoryFlatOnHugeUpload(t *testing.T) {
	s := testutil.Start(t, testutil.Options{}, "--pythonpath", ".", "conformance:input_count")
	upload := func(size int64, chunked bool) {
		req, _ := http.NewRequest("POST", s.URL+"/", io.LimitReader(zeros{}, size))
		req.ContentLength = size
		if chunked {
			req.ContentLength = -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct{ Length int64 }
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Length != size {
			t.Fatalf("the application read %d of %d bytes (%v)", got.Length, size, err)
		}
	}
	for _, chunked := range []bool{false, true} {
		rise := measurePeak(t, s, func() { upload(4<<20, chunked) }, func() { upload(gib, chunked) })
		if rise > memoryBudget {
			t.Errorf("chunked=%v: peak RSS rose by %d MiB during a 1 GiB upload", chunked, rise>>20)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
