package fcgi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var params []byte
	params = AppendParam(params, "REQUEST_METHOD", "POST")
	params = AppendParam(params, "HTTP_COOKIE", strings.Repeat("c", 300)) // a 4-byte length
	params = AppendParam(params, "EMPTY", "")
	var stream bytes.Buffer
	WriteRecord(&stream, TypeBeginRequest, 7, AppendBeginRequest(nil, RoleResponder, FlagKeepConn))
	WriteStream(&stream, TypeParams, 7, params)
	WriteRecord(&stream, TypeParams, 7, nil)
	body := bytes.Repeat([]byte("x"), MaxContent+10)
	WriteStream(&stream, TypeStdin, 7, body)
	WriteRecord(&stream, TypeStdin, 7, nil)

	rd := NewReader(&stream)
	rec, err := rd.Next()
	if err != nil || rec.Type != TypeBeginRequest || rec.ID != 7 {
		t.Fatalf("begin: %+v %v", rec, err)
	}
	role, flags, err := ParseBeginRequest(rec.Content)
	if err != nil || role != RoleResponder || flags != FlagKeepConn {
		t.Fatalf("role %d flags %d err %v", role, flags, err)
	}
	rec, _ = rd.Next()
	pairs, err := ParseParams(rec.Content, nil)
	if err != nil || len(pairs) != 3 || string(pairs[0][1]) != "POST" || len(pairs[1][1]) != 300 || string(pairs[2][0]) != "EMPTY" {
		t.Fatalf("params %q %v", pairs, err)
	}
	if rec, _ = rd.Next(); rec.Type != TypeParams || len(rec.Content) != 0 {
		t.Fatalf("params end: %+v", rec)
	}
	var got []byte
	for {
		rec, err = rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Content) == 0 {
			break
		}
		got = append(got, rec.Content...)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("stdin: %d bytes, want %d", len(got), len(body))
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestPadding(t *testing.T) {
	// Content "abc" with 5 bytes of padding, then another record.
	b := []byte{1, TypeStdin, 0, 1, 0, 3, 5, 0, 'a', 'b', 'c', 0, 0, 0, 0, 0}
	b = append(b, AppendHeader(nil, TypeStdin, 1, 0)...)
	rd := NewReader(bytes.NewReader(b))
	if rec, err := rd.Next(); err != nil || string(rec.Content) != "abc" {
		t.Fatalf("%q %v", rec.Content, err)
	}
	if rec, err := rd.Next(); err != nil || len(rec.Content) != 0 {
		t.Fatalf("%+v %v", rec, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"version 2", []byte{2, TypeStdin, 0, 1, 0, 0, 0, 0}, ErrProtocol},
		{"HTTP instead", []byte("GET / HTTP/1.1\r\n\r\n"), ErrProtocol},
		{"header cut", []byte{1, TypeStdin, 0}, io.ErrUnexpectedEOF},
		{"content cut", []byte{1, TypeStdin, 0, 1, 0, 9, 0, 0, 'a'}, io.ErrUnexpectedEOF},
		{"padding cut", []byte{1, TypeStdin, 0, 1, 0, 1, 4, 0, 'a'}, io.ErrUnexpectedEOF},
	} {
		_, err := NewReader(bytes.NewReader(c.in)).Next()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, in := range [][]byte{
		{5, 'a'},                    // value length missing
		{0x80, 0, 0},                // 4-byte length cut
		{3, 1, 'a', 'b'},            // shorter than announced
		{0xff, 0xff, 0xff, 0xff, 0}, // huge
	} {
		if _, err := ParseParams(in, nil); !errors.Is(err, ErrProtocol) {
			t.Errorf("params %q: %v, want ErrProtocol", in, err)
		}
	}
	if _, _, err := ParseBeginRequest([]byte{0, 1}); !errors.Is(err, ErrProtocol) {
		t.Errorf("short begin-request: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	var b bytes.Buffer
	WriteRecord(&b, TypeBeginRequest, 1, AppendBeginRequest(nil, RoleResponder, 0))
	WriteRecord(&b, TypeParams, 1, AppendParam(nil, "A", "b"))
	f.Add(b.Bytes())
	f.Add([]byte{1, TypeStdin, 0, 1, 0, 3, 5, 0, 'a', 'b', 'c', 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := NewReader(bytes.NewReader(data))
		for {
			rec, err := rd.Next()
			if err != nil {
				return
			}
			if len(rec.Content) > MaxContent {
				t.Fatalf("content of %d bytes", len(rec.Content))
			}
			if rec.Type == TypeBeginRequest {
				ParseBeginRequest(rec.Content)
			}
			ParseParams(rec.Content, nil)
		}
	})
}

func FuzzParams(f *testing.F) {
	f.Add(AppendParam(AppendParam(nil, "A", "b"), "LONG", strings.Repeat("v", 200)))
	f.Add([]byte{0x80, 0, 0, 1, 0, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := ParseParams(data, nil)
		if err != nil {
			return
		}
		// What parsed encodes back to the same pairs.
		var again []byte
		for _, p := range pairs {
			again = AppendParam(again, string(p[0]), string(p[1]))
		}
		back, err := ParseParams(again, nil)
		if err != nil || len(back) != len(pairs) {
			t.Fatalf("re-encoded: %v, %d pairs want %d", err, len(back), len(pairs))
		}
		for i := range back {
			if !bytes.Equal(back[i][0], pairs[i][0]) || !bytes.Equal(back[i][1], pairs[i][1]) {
				t.Fatalf("pair %d differs", i)
			}
		}
	})
}
