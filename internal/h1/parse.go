// Package h1 parses HTTP/1.1 requests (RFC 9112) strictly and without
// allocating: every part of a request is a slice of the caller's buffer.
//
// Strict means that anything a front proxy could read differently is
// refused: bare LF, obs-fold, whitespace before a colon, invalid names,
// Content-Length together with Transfer-Encoding, conflicting lengths,
// transfer codings other than chunked, and malformed chunk sizes.
package h1

import (
	"bytes"
	"errors"
)

// Limits are gunicorn's --limit-request-* settings. Zero means no limit of
// its own (the head is still bounded by MaxHead).
type Limits struct {
	RequestLine int // longest request line, without CRLF (gowsgi: 8190, gunicorn: 4094)
	Fields      int // most header fields (gunicorn: 100)
	FieldSize   int // longest header field line, without CRLF (gunicorn: 8190)
}

// MaxHead bounds a request head whatever the limits say.
const MaxHead = 1 << 20

// HeadLimit is the longest head the limits allow.
func (l Limits) HeadLimit() int {
	if l.RequestLine <= 0 || l.Fields <= 0 || l.FieldSize <= 0 {
		return MaxHead
	}
	// Limits this large exceed MaxHead anyway; checking them first keeps
	// the sum below from overflowing.
	if l.RequestLine >= MaxHead || l.FieldSize >= MaxHead || l.Fields > MaxHead/(l.FieldSize+2) {
		return MaxHead
	}
	n := l.RequestLine + 2 + l.Fields*(l.FieldSize+2) + 2
	if n > MaxHead {
		return MaxHead
	}
	return n
}

// Field is one header field; both slices point into the parsed buffer.
type Field struct {
	Name, Value []byte
}

// Request is a parsed request head. Slices point into the parsed buffer.
type Request struct {
	Method []byte
	Target []byte // the request-target as sent
	Path   []byte // its path, still percent-encoded ("*" for "*", "/" for absolute-form without one)
	Query  []byte // its query, without '?'
	Proto  []byte // "HTTP/1.1" or "HTTP/1.0"
	Minor  int    // 1 or 0

	Fields []Field
	Host   []byte // from the Host field, or the authority of an absolute-form target

	ContentLength  int64 // -1 when absent
	Chunked        bool
	Close          bool // the connection must close after this exchange
	ExpectContinue bool
}

// Error is a request the server must refuse, with the status to answer.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// ErrIncomplete means the buffer holds only the start of a head.
var ErrIncomplete = errors.New("h1: incomplete request head")

func bad(reason string) *Error { return &Error{Status: 400, Reason: reason} }

// HeadEnd returns the length of the head at the start of buf (up to and
// including its empty line), or -1 if it is not complete. from is where a
// previous call stopped looking, so that a head arriving byte by byte is
// scanned once; pass 0 the first time and the returned next afterwards.
func HeadEnd(buf []byte, from int) (end, next int) {
	i := from
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			// Resume at the start of the unfinished line.
			return -1, i
		}
		nl := i + j
		// An empty line ("\n" or "\r\n") ends the head, unless no line or
		// an empty one comes before it: those are the empty lines Parse
		// skips before the request line. Looking only at the line before
		// keeps the scan linear however many of them a client sends.
		if (nl == i || nl == i+1 && buf[i] == '\r') && i > 0 && !emptyLineAt(buf, i-1) {
			return nl + 1, nl + 1
		}
		i = nl + 1
	}
}

// emptyLineAt reports whether the line ending with the '\n' at buf[nl] is
// "\n" or "\r\n".
func emptyLineAt(buf []byte, nl int) bool {
	start := nl
	if start > 0 && buf[start-1] == '\r' {
		start--
	}
	return start == 0 || buf[start-1] == '\n'
}

// Parse parses the complete request head at the start of buf and returns
// its length. It returns ErrIncomplete if the head has not ended yet, and
// an *Error for a request to refuse.
func Parse(buf []byte, req *Request, lim Limits) (int, error) {
	*req = Request{Fields: req.Fields[:0], ContentLength: -1}

	// RFC 9112 2.2: ignore empty lines before the request line.
	p := 0
	for p+1 < len(buf) && buf[p] == '\r' && buf[p+1] == '\n' {
		p += 2
	}
	line, next, err := nextLine(buf, p)
	if err != nil {
		if err == ErrIncomplete && lim.RequestLine > 0 && len(buf)-p-2 > lim.RequestLine {
			return 0, &Error{Status: 414, Reason: "request line too long"}
		}
		return 0, err
	}
	if lim.RequestLine > 0 && len(line) > lim.RequestLine {
		return 0, &Error{Status: 414, Reason: "request line too long"}
	}
	if err := parseRequestLine(line, req); err != nil {
		return 0, err
	}
	p = next

	var hostSeen, clSeen, teSeen bool
	var te codings
	for {
		line, next, err = nextLine(buf, p)
		if err != nil {
			return 0, err
		}
		p = next
		if len(line) == 0 {
			break
		}
		if lim.Fields > 0 && len(req.Fields) >= lim.Fields {
			return 0, &Error{Status: 431, Reason: "too many header fields"}
		}
		if lim.FieldSize > 0 && len(line) > lim.FieldSize {
			return 0, &Error{Status: 431, Reason: "header field too long"}
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, bad("obsolete line folding in header")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, bad("malformed header field")
		}
		name := line[:colon]
		if !isToken(name) {
			return 0, bad("invalid header field name")
		}
		value := trimOWS(line[colon+1:])
		if !validValue(value) {
			return 0, bad("invalid character in header field value")
		}
		req.Fields = append(req.Fields, Field{Name: name, Value: value})

		switch {
		case equalFold(name, "host"):
			if hostSeen {
				return 0, bad("more than one Host header")
			}
			hostSeen = true
			if !validHost(value) {
				return 0, bad("invalid Host header")
			}
			if req.Host == nil { // an absolute-form target's authority wins
				req.Host = value
			}
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			if !ok {
				return 0, bad("invalid Content-Length")
			}
			if clSeen && n != req.ContentLength {
				return 0, bad("conflicting Content-Length headers")
			}
			clSeen = true
			req.ContentLength = n
		case equalFold(name, "transfer-encoding"):
			// Several fields form one list (RFC 9110 5.3): count the
			// codings of all of them.
			teSeen = true
			forEachToken(value, func(tok []byte) {
				te.n++
				if equalFold(tok, "chunked") {
					te.chunked++
				} else if !isToken(tok) {
					te.malformed = true
				}
			})
		case equalFold(name, "connection"):
			forEachToken(value, func(tok []byte) {
				if equalFold(tok, "close") {
					req.Close = true
				}
			})
		case equalFold(name, "expect"):
			if !equalFold(value, "100-continue") {
				return 0, &Error{Status: 417, Reason: "unsupported expectation"}
			}
			req.ExpectContinue = req.Minor == 1
		}
	}

	if req.Minor == 1 && !hostSeen {
		return 0, bad("HTTP/1.1 request without Host header")
	}
	if teSeen {
		if req.Minor == 0 {
			return 0, bad("Transfer-Encoding in an HTTP/1.0 request")
		}
		if clSeen {
			return 0, bad("both Content-Length and Transfer-Encoding")
		}
		if err := checkTransferEncoding(te); err != nil {
			return 0, err
		}
		req.Chunked = true
	}
	if req.Minor == 0 && !keepAlive10(req.Fields) {
		req.Close = true // HTTP/1.0 closes unless asked otherwise
	}
	return p, nil
}

// nextLine returns the line starting at p without its CRLF, and where the
// next line starts. A LF without CR is refused.
func nextLine(buf []byte, p int) ([]byte, int, error) {
	j := bytes.IndexByte(buf[p:], '\n')
	if j < 0 {
		return nil, 0, ErrIncomplete
	}
	end := p + j
	if end == p || buf[end-1] != '\r' {
		return nil, 0, bad("line not terminated by CRLF")
	}
	line := buf[p : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, bad("stray CR in request head")
	}
	return line, end + 1, nil
}

func parseRequestLine(line []byte, req *Request) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return bad("malformed request line")
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return bad("malformed request line")
	}
	req.Method, req.Target, req.Proto = line[:sp1], rest[:sp2], rest[sp2+1:]
	if !isToken(req.Method) {
		return bad("invalid method")
	}
	switch string(req.Proto) {
	case "HTTP/1.1":
		req.Minor = 1
	case "HTTP/1.0":
		req.Minor = 0
	default:
		if len(req.Proto) == 8 && string(req.Proto[:5]) == "HTTP/" && isDigit(req.Proto[5]) &&
			req.Proto[6] == '.' && isDigit(req.Proto[7]) {
			return &Error{Status: 505, Reason: "HTTP version not supported"}
		}
		return bad("malformed HTTP version")
	}
	return parseTarget(req)
}

func parseTarget(req *Request) error {
	t := req.Target
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return bad("invalid character in request target")
		}
	}
	switch {
	case t[0] == '/':
		// origin-form
	case len(t) == 1 && t[0] == '*':
		if string(req.Method) != "OPTIONS" {
			return bad("'*' target is for OPTIONS only")
		}
		req.Path = t
		return nil
	case hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://"):
		// absolute-form: the authority replaces the Host header.
		rest := t[bytes.IndexByte(t, ':')+3:]
		end := bytes.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if len(authority) == 0 || !validHost(authority) || bytes.IndexByte(authority, '@') >= 0 {
			return bad("invalid authority in request target")
		}
		req.Host = authority
		t = rest[end:]
		if len(t) == 0 || t[0] == '?' {
			req.Path = rootPath[:1:1]
			if len(t) > 0 {
				req.Query = t[1:]
			}
			return nil
		}
	default:
		return bad("unsupported request target form")
	}
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		req.Path, req.Query = t[:q], t[q+1:]
	} else {
		req.Path = t
	}
	return nil
}

// codings counts the transfer codings of the Transfer-Encoding fields.
type codings struct {
	n, chunked int
	malformed  bool // an element that is not a token
}

// rootPath is the path of an absolute-form target without one; sharing it
// keeps Parse from allocating.
var rootPath = []byte("/")

// checkTransferEncoding accepts only "chunked" (RFC 9112 6.1: the final
// coding must be chunked; other codings are not implemented here).
func checkTransferEncoding(te codings) error {
	switch {
	case te.malformed || te.n == 0:
		return bad("malformed Transfer-Encoding")
	case te.chunked == 1 && te.n == 1:
		return nil
	case te.chunked > 1:
		return bad("chunked applied more than once")
	default:
		return &Error{Status: 501, Reason: "transfer coding not implemented"}
	}
}

func keepAlive10(fields []Field) bool {
	keep := false
	for _, f := range fields {
		if equalFold(f.Name, "connection") {
			forEachToken(f.Value, func(tok []byte) {
				if equalFold(tok, "keep-alive") {
					keep = true
				}
			})
		}
	}
	return keep
}

// forEachToken calls f for each element of a comma-separated list, trimmed.
func forEachToken(v []byte, f func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		if tok = trimOWS(tok); len(tok) > 0 {
			f(tok)
		}
	}
}

// parseLength reads 1*DIGIT, refusing signs, spaces and lists.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// validValue: field-vchar, SP, HTAB and obs-text; no other controls.
func validValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost: the characters of uri-host [":" port], including IPv6 brackets.
func validHost(h []byte) bool {
	for _, c := range h {
		if !hostTable[c] {
			return false
		}
	}
	return true
}

var hostTable = charTable("-._~!$&'()*+,;=:[]%")

// tchar of RFC 9110.
var tokenTable = charTable("!#$%&'*+-.^_`|~")

// charTable allows letters, digits and the extra characters.
func charTable(extra string) (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	return t
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold compares b with the lower-case ASCII s, ignoring case.
func EqualFold(b []byte, s string) bool { return equalFold(b, s) }

// EqualFoldBytes compares two ASCII names, ignoring case.
func EqualFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}
