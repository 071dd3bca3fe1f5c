// Package fcgi reads and writes the record framing of FastCGI 1.0
// (https://fastcgi-archives.github.io/FastCGI_Specification.html) for a
// responder: records one at a time, name-value pairs, and the bodies of
// the begin/end-request records. It keeps no request state: the caller
// streams stdin and stdout records as they come.
package fcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record types.
const (
	TypeBeginRequest    = 1
	TypeAbortRequest    = 2
	TypeEndRequest      = 3
	TypeParams          = 4
	TypeStdin           = 5
	TypeStdout          = 6
	TypeStderr          = 7
	TypeData            = 8
	TypeGetValues       = 9
	TypeGetValuesResult = 10
	TypeUnknownType     = 11
)

// Roles and flags of a begin-request record.
const (
	RoleResponder = 1
	FlagKeepConn  = 1
)

// Protocol statuses of an end-request record.
const (
	StatusRequestComplete = 0
	StatusCantMpxConn     = 1
	StatusOverloaded      = 2
	StatusUnknownRole     = 3
)

const (
	version    = 1
	headerSize = 8
	// MaxContent is the most content one record carries.
	MaxContent = 65535
)

// ErrProtocol is the root of every framing error: the peer does not speak
// FastCGI, or not correctly. The connection cannot be used further.
var ErrProtocol = errors.New("fastcgi protocol error")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// Record is one record as read. Content is valid until the next Next.
type Record struct {
	Type    uint8
	ID      uint16
	Content []byte
}

// Reader reads records from a stream.
type Reader struct {
	r   *bufio.Reader
	buf []byte
}

// NewReader reads records from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 16<<10), buf: make([]byte, MaxContent+255)}
}

// Next reads the next record. At a clean end of the stream between
// records it returns io.EOF; a record cut short is io.ErrUnexpectedEOF.
func (rd *Reader) Next() (Record, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(rd.r, h[:]); err != nil {
		return Record{}, err
	}
	if h[0] != version {
		return Record{}, protocolError("version %d (only 1 exists)", h[0])
	}
	n := int(binary.BigEndian.Uint16(h[4:6])) + int(h[6])
	if _, err := io.ReadFull(rd.r, rd.buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Record{}, err
	}
	return Record{
		Type:    h[1],
		ID:      binary.BigEndian.Uint16(h[2:4]),
		Content: rd.buf[:binary.BigEndian.Uint16(h[4:6])],
	}, nil
}

// Buffered is how many bytes are read ahead and not yet returned.
func (rd *Reader) Buffered() int { return rd.r.Buffered() }

// AppendHeader appends a record header for n bytes of content, without
// padding.
func AppendHeader(dst []byte, typ uint8, id uint16, n int) []byte {
	return append(dst, version, typ, byte(id>>8), byte(id), byte(n>>8), byte(n), 0, 0)
}

// WriteStream writes p as records of type typ, each at most MaxContent
// long. An empty p writes nothing: the empty record that ends a stream is
// the caller's to write (WriteRecord with nil).
func WriteStream(w io.Writer, typ uint8, id uint16, p []byte) error {
	for len(p) > 0 {
		n := min(len(p), MaxContent)
		if err := WriteRecord(w, typ, id, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// WriteRecord writes one record; len(content) must be at most MaxContent.
func WriteRecord(w io.Writer, typ uint8, id uint16, content []byte) error {
	var h [headerSize]byte
	if _, err := w.Write(AppendHeader(h[:0], typ, id, len(content))); err != nil {
		return err
	}
	if len(content) == 0 {
		return nil
	}
	_, err := w.Write(content)
	return err
}

// ParseBeginRequest reads the body of a begin-request record.
func ParseBeginRequest(content []byte) (role uint16, flags uint8, err error) {
	if len(content) != 8 {
		return 0, 0, protocolError("begin-request body of %d bytes (8 expected)", len(content))
	}
	return binary.BigEndian.Uint16(content[0:2]), content[2], nil
}

// AppendBeginRequest appends the body of a begin-request record.
func AppendBeginRequest(dst []byte, role uint16, flags uint8) []byte {
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// AppendEndRequest appends the body of an end-request record.
func AppendEndRequest(dst []byte, appStatus uint32, protocolStatus uint8) []byte {
	return append(binary.BigEndian.AppendUint32(dst, appStatus), protocolStatus, 0, 0, 0)
}

// ParseParams splits a stream of name-value pairs (params, get-values) and
// appends them to out. The pairs point into b.
func ParseParams(b []byte, out [][2][]byte) ([][2][]byte, error) {
	for len(b) > 0 {
		nameLen, rest, err := pairLength(b)
		if err != nil {
			return out, err
		}
		valueLen, rest, err := pairLength(rest)
		if err != nil {
			return out, err
		}
		if uint64(len(rest)) < uint64(nameLen)+uint64(valueLen) {
			return out, protocolError("name-value pair longer than its record stream")
		}
		out = append(out, [2][]byte{rest[:nameLen:nameLen], rest[nameLen : nameLen+valueLen : nameLen+valueLen]})
		b = rest[nameLen+valueLen:]
	}
	return out, nil
}

// pairLength reads a length of a name-value pair: one byte below 128, else
// four bytes with the top bit set.
func pairLength(b []byte) (uint32, []byte, error) {
	if len(b) == 0 {
		return 0, nil, protocolError("name-value pair cut short")
	}
	if b[0]&0x80 == 0 {
		return uint32(b[0]), b[1:], nil
	}
	if len(b) < 4 {
		return 0, nil, protocolError("name-value pair length cut short")
	}
	return binary.BigEndian.Uint32(b) & 0x7fffffff, b[4:], nil
}

// AppendParam appends one name-value pair.
func AppendParam(dst []byte, name, value string) []byte {
	dst = appendPairLength(dst, len(name))
	dst = appendPairLength(dst, len(value))
	return append(append(dst, name...), value...)
}

func appendPairLength(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)|0x80000000)
}
