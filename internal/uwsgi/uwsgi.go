// Package uwsgi reads the request packet of the uwsgi protocol as web
// servers send it (nginx's uwsgi_pass, Apache's mod_proxy_uwsgi): a
// 4-byte header — modifier1, the size of the variables block as 16-bit
// little-endian, modifier2 — then the variables as key/value pairs, each
// with a 16-bit little-endian length. The request body follows, as long
// as CONTENT_LENGTH says; the response is plain HTTP.
package uwsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the length of a packet header.
const HeaderSize = 4

// ModifierWSGI is modifier1 of a request for a WSGI application (with
// modifier2 0), the only kind served.
const ModifierWSGI = 0

// ErrProtocol is the root of every framing error.
var ErrProtocol = errors.New("uwsgi protocol error")

// Header is a packet header.
type Header struct {
	Modifier1 uint8
	Size      uint16 // of the variables block that follows
	Modifier2 uint8
}

// ParseHeader reads a packet header from its 4 bytes.
func ParseHeader(b [HeaderSize]byte) Header {
	return Header{Modifier1: b[0], Size: binary.LittleEndian.Uint16(b[1:3]), Modifier2: b[3]}
}

// ReadRequest reads a request packet's header and variables block from r
// into buf (which must hold 65535 bytes) and returns the variables,
// appended to out and pointing into buf.
func ReadRequest(r io.Reader, buf []byte, out [][2][]byte) (Header, [][2][]byte, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return Header{}, out, err
	}
	h := ParseHeader(hb)
	if h.Modifier1 != ModifierWSGI || h.Modifier2 != 0 {
		return h, out, fmt.Errorf("%w: modifiers %d/%d (a WSGI request is 0/0)", ErrProtocol, h.Modifier1, h.Modifier2)
	}
	vars := buf[:h.Size]
	if _, err := io.ReadFull(r, vars); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, out, err
	}
	out, err := ParseVars(vars, out)
	return h, out, err
}

// ParseVars splits a variables block into key/value pairs appended to out.
// The pairs point into b.
func ParseVars(b []byte, out [][2][]byte) ([][2][]byte, error) {
	for len(b) > 0 {
		key, rest, err := item(b)
		if err != nil {
			return out, err
		}
		value, rest, err := item(rest)
		if err != nil {
			return out, err
		}
		out = append(out, [2][]byte{key, value})
		b = rest
	}
	return out, nil
}

func item(b []byte) ([]byte, []byte, error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: variable length cut short", ErrProtocol)
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if len(b) < n {
		return nil, nil, fmt.Errorf("%w: variable of %d bytes, %d left in the block", ErrProtocol, n, len(b))
	}
	return b[:n:n], b[n:], nil
}

// AppendVar appends one key/value pair to a variables block (for clients
// and tests). Keys and values longer than 65535 bytes cannot be encoded.
func AppendVar(dst []byte, key, value string) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(key)))
	dst = append(dst, key...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(value)))
	return append(dst, value...)
}

// AppendHeader appends the header of a WSGI request packet whose
// variables block is size bytes.
func AppendHeader(dst []byte, size int) []byte {
	return append(dst, ModifierWSGI, byte(size), byte(size>>8), 0)
}
