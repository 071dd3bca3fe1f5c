package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// source is the connection buffer the server gives a ChunkedReader: a
// bufio.Reader, here over a reader that may return little at a time.
type source struct {
	*bufio.Reader
}

func newSource(r io.Reader) source {
	return source{bufio.NewReaderSize(r, 16)}
}

// decoded is what decode read of a chunked body.
type decoded struct {
	body []byte
	err  error  // what ended the body: io.EOF at a proper end
	rest string // what was left unread in the source
	done bool   // Done at the end
}

// decode reads a chunked body from s with reads of size bufSize.
func decode(s string, bufSize int, wrap func(io.Reader) io.Reader) decoded {
	src := newSource(wrap(strings.NewReader(s)))
	var cr ChunkedReader
	cr.Reset(src)
	var d decoded
	buf := make([]byte, bufSize)
	for d.err == nil {
		var n int
		n, d.err = cr.Read(buf)
		if n > len(buf) {
			panic("Read returned more than asked for")
		}
		d.body = append(d.body, buf[:n]...)
	}
	left, _ := io.ReadAll(src)
	d.rest, d.done = string(left), cr.Done()
	return d
}

var readerWraps = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"one byte": iotest.OneByteReader,
	"half":     iotest.HalfReader,
}

func TestChunkedValid(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"empty body", "0\r\n\r\n", ""},
		{"several chunks", "3\r\nabc\r\n1\r\nd\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n", "abcd0123456789abcdef"},
		{"hex in both cases", "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n", "0123456789abcdefghijk"},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
		{"15 hex digits", "000000000000005\r\nhello\r\n0\r\n\r\n", "hello"},
		{"CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
		{"binary data", "4\r\n\x00\xff\n\r\r\n0\r\n\r\n", "\x00\xff\n\r"},
		{
			"extensions",
			"3;name=value\r\nabc\r\n2;a;b=\"q s\"\r\nde\r\n1; bws = x\t\r\nf\r\n0;last=\xff\r\n\r\n",
			"abcdef",
		},
		{
			"trailers",
			"5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum:abc\r\nX-Empty:\r\nX-Obs: \xe9\t\r\n\r\n",
			"hello",
		},
		{"extensions and trailers", "2;x\r\nhi\r\n0;y=1\r\nT: 1\r\n\r\n", "hi"},
		{"size line at its limit", "2;" + strings.Repeat("e", maxChunkLine-2) + "\r\nhi\r\n0\r\n\r\n", "hi"},
		{"trailer line at its limit", "0\r\nX:" + strings.Repeat("v", maxChunkLine-2) + "\r\n\r\n", ""},
		{"most trailers", "1\r\nx\r\n0\r\n" + strings.Repeat("T: v\r\n", maxTrailers) + "\r\n", "x"},
	}
	for _, tt := range tests {
		for wname, wrap := range readerWraps {
			for _, size := range []int{1, 2, 3, 7, 4096} {
				const next = "GET / HTTP/1.1\r\n"
				d := decode(tt.in+next, size, wrap)
				body, err, rest, done := d.body, d.err, d.rest, d.done
				if err != io.EOF || string(body) != tt.want {
					t.Errorf("%s, %s reads of %d: got %q, %v; want %q, EOF", tt.name, wname, size, body, err, tt.want)
				}
				if !done {
					t.Errorf("%s, %s reads of %d: not Done at EOF", tt.name, wname, size)
				}
				// The reader stops right after the body: what follows is
				// the next request on the connection.
				if rest != next {
					t.Errorf("%s, %s reads of %d: left %q in the source, want %q", tt.name, wname, size, rest, next)
				}
			}
		}
	}
}

// Done turns true only once the trailer section is read, not when the last
// data byte is.
func TestChunkedDone(t *testing.T) {
	var cr ChunkedReader
	cr.Reset(newSource(strings.NewReader("5\r\nhello\r\n0\r\nT: x\r\n\r\n")))
	if cr.Done() {
		t.Fatal("Done before reading")
	}
	buf := make([]byte, 5)
	n, err := cr.Read(buf)
	if n != 5 || err != nil || string(buf) != "hello" {
		t.Fatalf("Read = %d, %v, %q", n, err, buf[:n])
	}
	if cr.Done() {
		t.Error("Done before the last chunk and the trailers")
	}
	for i := 0; i < 2; i++ {
		if n, err := cr.Read(buf); n != 0 || err != io.EOF {
			t.Errorf("Read at the end = %d, %v; want 0, EOF", n, err)
		}
		if !cr.Done() {
			t.Error("not Done after EOF")
		}
	}
}

func TestChunkedRefused(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"no size", "\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"not hex", "x\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"hex prefix", "0x5\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"plus sign", "+5\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"minus sign", "-5\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"space before size", " 5\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"tab before size", "\t5\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"space after size", "5 \r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"space before extension", "5 ;a=b\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"extension without size", ";a\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"16 hex digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"size beyond int64", "10000000000000000\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", errChunkSize},
		{"CR CR after size", "5\r\rhello\r\n0\r\n\r\n", errChunkLine},
		{"CR without LF after extension", "5;a\rhello\r\n0\r\n\r\n", errChunkLine},
		{"no CRLF after data", "5\r\nhello0\r\n\r\n", errChunkLine},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", errChunkLine},
		{"CR only after data", "5\r\nhello\r0\r\n\r\n", errChunkLine},
		{"data longer than its size", "5\r\nhello!\r\n0\r\n\r\n", errChunkLine},
		{"bare LF after last chunk", "0\n\r\n", errChunkSize},
		{"NUL in extension", "5;a\x00b\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"bare LF in extension", "5;a\nhello\r\n0\r\n\r\n", errChunkSize},
		{"DEL in extension", "5;a=\x7f\r\nhello\r\n0\r\n\r\n", errChunkSize},
		{"size line too long", "5;" + strings.Repeat("e", maxChunkLine-1) + "\r\nhello\r\n0\r\n\r\n", errChunkTooLong},
		{"size line far too long", "5;" + strings.Repeat("e", 10*maxChunkLine), errChunkTooLong},
		{"trailer without colon", "0\r\nExpires\r\n\r\n", errTrailer},
		{"trailer folded", "0\r\nX-A: a\r\n b\r\n\r\n", errTrailer},
		{"trailer starting with space", "0\r\n X-A: a\r\n\r\n", errTrailer},
		{"trailer starting with tab", "0\r\n\tX-A: a\r\n\r\n", errTrailer},
		{"trailer with empty name", "0\r\n: a\r\n\r\n", errTrailer},
		{"trailer name with space", "0\r\nX A: a\r\n\r\n", errTrailer},
		{"trailer with space before colon", "0\r\nX-A : a\r\n\r\n", errTrailer},
		{"trailer name with obs-text", "0\r\nX-\xe9: a\r\n\r\n", errTrailer},
		{"NUL in trailer value", "0\r\nX-A: a\x00\r\n\r\n", errTrailer},
		{"bare LF in trailer", "0\r\nX-A: a\nX-B: b\r\n\r\n", errTrailer},
		{"bare LF ending trailers", "0\r\nX-A: a\r\n\n", errTrailer},
		{"bare LF as empty trailer line", "0\r\n\n", errTrailer},
		{"CR inside trailer", "0\r\nX-A: a\rb\r\n\r\n", errChunkLine},
		{"trailer line too long", "0\r\nX:" + strings.Repeat("v", maxChunkLine-1) + "\r\n\r\n", errTrailer},
		{"too many trailers", "0\r\n" + strings.Repeat("T: v\r\n", maxTrailers+1) + "\r\n", errTrailer},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 4096} {
			d := decode(tt.in, size, iotest.OneByteReader)
			body, err, done := d.body, d.err, d.done
			if !errors.Is(err, tt.want) {
				t.Errorf("%s, reads of %d: %v, want %v", tt.name, size, err, tt.want)
			}
			if done {
				t.Errorf("%s, reads of %d: Done after an error", tt.name, size)
			}
			if len(body) > 5 {
				t.Errorf("%s, reads of %d: read %q", tt.name, size, body)
			}
		}
	}
}

// An error sticks: the body cannot resume after it.
func TestChunkedErrorSticks(t *testing.T) {
	var cr ChunkedReader
	cr.Reset(newSource(strings.NewReader("5\nhello\r\n0\r\n\r\n")))
	buf := make([]byte, 16)
	for i := 0; i < 3; i++ {
		if n, err := cr.Read(buf); n != 0 || err != errChunkSize {
			t.Fatalf("Read %d = %d, %v; want 0, %v", i, n, err, errChunkSize)
		}
	}
	// Reset makes the reader good for another body.
	cr.Reset(newSource(strings.NewReader("2\r\nok\r\n0\r\n\r\n")))
	got, err := io.ReadAll(&cr)
	if err != nil || string(got) != "ok" || !cr.Done() {
		t.Errorf("after Reset: %q, %v, Done %v", got, err, cr.Done())
	}
}

// A body cut short anywhere is an unexpected EOF, never a clean end.
func TestChunkedTruncated(t *testing.T) {
	const in = "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n"
	const full = "abc0123456789abcdef"
	for i := 0; i < len(in); i++ {
		for _, size := range []int{1, 4096} {
			d := decode(in[:i], size, iotest.HalfReader)
			body, err, done := d.body, d.err, d.done
			if err != io.ErrUnexpectedEOF {
				t.Errorf("%q, reads of %d: %v, want io.ErrUnexpectedEOF", in[:i], size, err)
			}
			if done || !strings.HasPrefix(full, string(body)) {
				t.Errorf("%q, reads of %d: read %q, Done %v", in[:i], size, body, done)
			}
		}
	}
}

func TestChunkedLargeBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	var enc bytes.Buffer
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(70000))
		fmt.Fprintf(&enc, "%x\r\n", n)
		enc.Write(rest[:n])
		enc.WriteString("\r\n")
		rest = rest[n:]
	}
	enc.WriteString("0\r\n\r\n")
	for _, size := range []int{13, 32 << 10, 2 << 20} {
		d := decode(enc.String(), size, readerWraps["whole"])
		body, err, rest, done := d.body, d.err, d.rest, d.done
		if err != io.EOF || !done || rest != "" || !bytes.Equal(body, want) {
			t.Errorf("reads of %d: %d bytes, %v, Done %v, %d left; want %d bytes", size, len(body), err, done, len(rest), len(want))
		}
	}
}
