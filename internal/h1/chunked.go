package h1

import (
	"errors"
	"io"
)

// ByteReader is what the body readers read from: the connection's buffer.
type ByteReader interface {
	io.Reader
	io.ByteReader
}

// Limits of the chunked framing itself.
const (
	maxChunkLine = 4096 // chunk size line, extensions included, without CRLF
	maxTrailers  = 100
)

var (
	errChunkSize    = errors.New("h1: malformed chunk size")
	errChunkLine    = errors.New("h1: chunk line not terminated by CRLF")
	errChunkTooLong = errors.New("h1: chunk size line too long")
	errTrailer      = errors.New("h1: malformed trailer section")
)

// ChunkedReader decodes a chunked request body (RFC 9112 7.1). It refuses
// what parsers disagree on: sizes with signs, spaces or more than 15 hex
// digits, bare LF, missing CRLF after data. Trailer fields are read and
// discarded.
type ChunkedReader struct {
	src       ByteReader
	remaining int64 // bytes left in the current chunk
	started   bool  // a chunk size was read
	done      bool
	err       error
}

// Reset prepares r to decode a new body from src.
func (r *ChunkedReader) Reset(src ByteReader) {
	*r = ChunkedReader{src: src}
}

// Done reports whether the whole body, trailers included, was read.
func (r *ChunkedReader) Done() bool { return r.done }

func (r *ChunkedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	if r.remaining == 0 {
		if r.started {
			if err := r.crlf(); err != nil {
				return 0, r.fail(err)
			}
		}
		size, err := r.sizeLine()
		if err != nil {
			return 0, r.fail(err)
		}
		r.started = true
		if size == 0 {
			if err := r.trailers(); err != nil {
				return 0, r.fail(err)
			}
			r.done = true
			return 0, io.EOF
		}
		r.remaining = size
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.src.Read(p)
	r.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		r.err = err
	}
	return n, err
}

func (r *ChunkedReader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	r.err = err
	return err
}

func (r *ChunkedReader) crlf() error {
	c, err := r.src.ReadByte()
	if err != nil {
		return err
	}
	d, err := r.src.ReadByte()
	if err != nil {
		return err
	}
	if c != '\r' || d != '\n' {
		return errChunkLine
	}
	return nil
}

// sizeLine reads chunk-size [chunk-ext] CRLF.
func (r *ChunkedReader) sizeLine() (int64, error) {
	var size int64
	digits := 0
	for {
		c, err := r.src.ReadByte()
		if err != nil {
			return 0, err
		}
		v := hexValue(c)
		if v < 0 {
			if digits == 0 {
				return 0, errChunkSize
			}
			switch c {
			case '\r':
				return size, r.lf()
			case ';':
				return size, r.extensions(digits + 1)
			default:
				return 0, errChunkSize
			}
		}
		digits++
		if digits > 15 {
			return 0, errChunkSize
		}
		size = size<<4 | int64(v)
	}
}

// extensions skips chunk extensions up to CRLF; their content is ignored
// but must hold no control characters. n is the length of the line so far.
func (r *ChunkedReader) extensions(n int) error {
	for {
		c, err := r.src.ReadByte()
		if err != nil {
			return err
		}
		if c == '\r' {
			return r.lf()
		}
		n++
		if n > maxChunkLine {
			return errChunkTooLong
		}
		if (c < ' ' && c != '\t') || c == 0x7f {
			return errChunkSize
		}
	}
}

func (r *ChunkedReader) lf() error {
	c, err := r.src.ReadByte()
	if err != nil {
		return err
	}
	if c != '\n' {
		return errChunkLine
	}
	return nil
}

// trailers reads the trailer section up to its empty line.
func (r *ChunkedReader) trailers() error {
	for count := 0; ; count++ {
		if count > maxTrailers {
			return errTrailer
		}
		n := 0
		sawColon := false
		for {
			c, err := r.src.ReadByte()
			if err != nil {
				return err
			}
			if c == '\r' {
				if err := r.lf(); err != nil {
					return err
				}
				break
			}
			if n == 0 && (c == ' ' || c == '\t') {
				return errTrailer // obs-fold
			}
			if c == ':' && n > 0 {
				sawColon = true
			} else if !sawColon && !tokenTable[c] {
				return errTrailer
			} else if sawColon && ((c < ' ' && c != '\t') || c == 0x7f) {
				return errTrailer
			}
			n++
			if n > maxChunkLine {
				return errTrailer
			}
		}
		if n == 0 {
			return nil
		}
		if !sawColon {
			return errTrailer
		}
	}
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
