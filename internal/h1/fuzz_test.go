package h1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
	"unsafe"
)

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	"GET /a/b%20c?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nAccept: text/html\r\n\r\n",
	"GET http://origin.test:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET http://origin.test?q HTTP/1.1\r\nHost: other\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: \xe9\xff \t\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n",
	"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n",
}

// fuzzLimits are small enough for fuzzed inputs to hit them.
var fuzzLimits = []Limits{{}, {RequestLine: 40, Fields: 4, FieldSize: 32}}

// within reports whether s lies inside buf's memory, which is what "a
// slice of the caller's buffer" means.
func within(buf, s []byte) bool {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return start >= base && start+uintptr(len(s)) <= base+uintptr(len(buf))
}

var refusals = map[int]bool{400: true, 414: true, 417: true, 431: true, 501: true, 505: true}

func FuzzParse(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range fuzzLimits {
			checkParse(t, data, lim)
		}
	})
}

func checkParse(t *testing.T, data []byte, lim Limits) {
	var req Request
	n, err := Parse(data, &req, lim)
	if err != nil {
		var e *Error
		switch {
		case err == ErrIncomplete:
		case errors.As(err, &e):
			if !refusals[e.Status] || e.Reason == "" {
				t.Fatalf("Parse(%q, %+v): unexpected refusal %d %q", data, lim, e.Status, e.Reason)
			}
		default:
			t.Fatalf("Parse(%q, %+v): unexpected error %v", data, lim, err)
		}
		return
	}
	if n <= 0 || n > len(data) {
		t.Fatalf("Parse(%q, %+v) = %d, out of range", data, lim, n)
	}
	head := data[:n]
	parts := map[string][]byte{
		"Method": req.Method, "Target": req.Target, "Proto": req.Proto,
	}
	// Path is the shared "/" only for an absolute-form target without one.
	if len(req.Path) == 1 && unsafe.SliceData(req.Path) == unsafe.SliceData(rootPath) {
		if bytes.HasPrefix(req.Target, []byte("/")) || bytes.Equal(req.Target, []byte("*")) {
			t.Fatalf("Parse(%q): shared \"/\" path for target %q", data, req.Target)
		}
	} else {
		parts["Path"] = req.Path
	}
	if req.Query != nil {
		parts["Query"] = req.Query
	}
	if req.Host != nil {
		parts["Host"] = req.Host
	}
	for i, fl := range req.Fields {
		parts[fmt.Sprintf("field %d name", i)] = fl.Name
		parts[fmt.Sprintf("field %d value", i)] = fl.Value
		if !isToken(fl.Name) {
			t.Fatalf("Parse(%q): field name %q is not a token", data, fl.Name)
		}
		if bytes.ContainsAny(fl.Value, "\r\n\x00") {
			t.Fatalf("Parse(%q): field value %q holds a control character", data, fl.Value)
		}
	}
	for name, s := range parts {
		if s == nil || !within(head, s) {
			t.Fatalf("Parse(%q): %s %q is not a slice of the head", data, name, s)
		}
	}
	if !isToken(req.Method) {
		t.Fatalf("Parse(%q): method %q is not a token", data, req.Method)
	}
	if want := fmt.Sprintf("HTTP/1.%d", req.Minor); string(req.Proto) != want {
		t.Fatalf("Parse(%q): Proto %q, Minor %d", data, req.Proto, req.Minor)
	}
	if req.Chunked && req.ContentLength >= 0 {
		t.Fatalf("Parse(%q): both chunked and Content-Length %d", data, req.ContentLength)
	}
	if req.ContentLength < -1 {
		t.Fatalf("Parse(%q): Content-Length %d", data, req.ContentLength)
	}
	if req.Minor == 1 && req.Host == nil {
		t.Fatalf("Parse(%q): HTTP/1.1 request without a host", data)
	}
	if req.Minor == 0 && (req.Chunked || req.ExpectContinue) {
		t.Fatalf("Parse(%q): HTTP/1.0 with Chunked %v, ExpectContinue %v", data, req.Chunked, req.ExpectContinue)
	}
	if lim.Fields > 0 && len(req.Fields) > lim.Fields {
		t.Fatalf("Parse(%q): %d fields, limit %d", data, len(req.Fields), lim.Fields)
	}
	if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		t.Fatalf("Parse(%q): head %q does not end with an empty line", data, head)
	}
	// The head alone parses the same: nothing after it was looked at.
	var again Request
	if m, err := Parse(head, &again, lim); m != n || err != nil {
		t.Fatalf("Parse(%q) = %d, but of its head alone %d, %v", data, n, m, err)
	}
}

func FuzzHeadEnd(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{"\r\n\r\n", "\n\n", "\r\n\n\r\n", "x\n\n", "x\r\n\r\n", "\r\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end, next := HeadEnd(data, 0)
		if end >= 0 {
			if end > len(data) || data[end-1] != '\n' || next != end {
				t.Fatalf("HeadEnd(%q) = %d, %d", data, end, next)
			}
		} else if end != -1 || next < 0 || next > len(data) || next > 0 && data[next-1] != '\n' {
			t.Fatalf("HeadEnd(%q) = %d, %d", data, end, next)
		}

		// Fed byte by byte, the same end is found when its LF arrives.
		from, found, at := 0, -1, 0
		for at < len(data) && found < 0 {
			at++
			found, from = HeadEnd(data[:at], from)
		}
		if found != end || found >= 0 && at != end {
			t.Fatalf("HeadEnd(%q) = %d, but byte by byte %d after %d bytes", data, end, found, at)
		}

		// The server reads a head up to HeadEnd's end and parses that:
		// the two must agree on where a valid head ends.
		var req Request
		n, err := Parse(data, &req, Limits{})
		if err == nil && n != end {
			t.Fatalf("%q: Parse = %d but HeadEnd = %d", data, n, end)
		}
		if end >= 0 {
			if n, err := Parse(data[:end], &req, Limits{}); err == nil && n != end {
				t.Fatalf("%q: Parse of the head = %d but HeadEnd = %d", data, n, end)
			} else if err == ErrIncomplete {
				t.Fatalf("%q: Parse of the head up to HeadEnd %d is incomplete", data, end)
			}
		}
	})
}

// encodeChunked frames body as chunks whose sizes come from sizes, each
// with an extension, and ends it with a trailer.
func encodeChunked(body, sizes []byte) []byte {
	var b []byte
	for i := 0; len(body) > 0; i++ {
		n := len(body)
		if len(sizes) > 0 {
			n = min(n, 1+int(sizes[i%len(sizes)]))
		}
		b = strconv.AppendInt(b, int64(n), 16)
		b = append(b, ";i="...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, "\r\n"...)
		b = append(b, body[:n]...)
		b = append(b, "\r\n"...)
		body = body[n:]
	}
	return append(b, "0\r\nTrailer: x\r\n\r\n"...)
}

func FuzzChunked(f *testing.F) {
	seeds := []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"3;a=b\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
		"0\r\n\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\nhello!\r\n0\r\n\r\n",
		"-1\r\n",
		"fffffffffffffff\r\nx",
		"0\r\nX\r\n\r\n",
		"0\r\n x: y\r\n\r\n",
		"1;\x01\r\nx\r\n0\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte{3, 0})
	}
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		// Short inputs show all the framing can do; long ones only make
		// each new input slow to minimize, which stalls the fuzzer.
		if len(data) > 256 || len(sizes) > 16 {
			return
		}
		// Any input: no panic, no more bytes out than in, and the same
		// outcome whatever the size of the reads.
		var first decoded
		for i, size := range []int{1, 7, 512} {
			d := fuzzDecode(t, data, size)
			if len(d.body) > len(data) {
				t.Fatalf("%q: decoded %d bytes out of %d", data, len(d.body), len(data))
			}
			if d.done != (d.err == io.EOF) {
				t.Fatalf("%q: Done %v with error %v", data, d.done, d.err)
			}
			if i == 0 {
				first = d
			} else if !bytes.Equal(d.body, first.body) || d.err != first.err || d.rest != first.rest {
				t.Fatalf("%q: reads of 1 gave %q, %v, %q; reads of %d gave %q, %v, %q",
					data, first.body, first.err, first.rest, size, d.body, d.err, d.rest)
			}
		}

		// Any body framed properly comes back exactly, and nothing after
		// it is consumed.
		enc := encodeChunked(data, sizes)
		d := fuzzDecode(t, append(enc, "NEXT"...), 64)
		if d.err != io.EOF || !d.done || !bytes.Equal(d.body, data) || d.rest != "NEXT" {
			t.Fatalf("%q encoded as %q: got %q, %v, Done %v, rest %q", data, enc, d.body, d.err, d.done, d.rest)
		}
	})
}

// fuzzDecode is decode with a check that every Read makes progress, so a
// reader that loops without reading fails instead of hanging.
func fuzzDecode(t *testing.T, data []byte, size int) decoded {
	src := newSource(iotest.HalfReader(bytes.NewReader(data)))
	var cr ChunkedReader
	cr.Reset(src)
	var d decoded
	buf := make([]byte, size)
	for reads := 0; d.err == nil; reads++ {
		if reads > len(data)+1 {
			t.Fatalf("%q: %d reads without an end", data, reads)
		}
		var n int
		n, d.err = cr.Read(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("%q: Read returned %d for a buffer of %d", data, n, len(buf))
		}
		if n == 0 && d.err == nil {
			t.Fatalf("%q: Read returned 0, nil", data)
		}
		d.body = append(d.body, buf[:n]...)
	}
	left, _ := io.ReadAll(src)
	d.rest, d.done = string(left), cr.Done()
	if d.err != io.EOF && d.done {
		t.Fatalf("%q: Done after %v", data, d.err)
	}
	return d
}
