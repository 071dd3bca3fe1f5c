// Package proxyproto reads the PROXY protocol header (HAProxy's, versions
// 1 and 2) that a proxy sends at the start of a connection to say whose it
// is: the client's address and port, and the address it connected to.
// https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Mode says which versions of the header a listener reads.
type Mode int

const (
	Off  Mode = iota
	V1        // the text header only
	V2        // the binary header only
	Auto      // either
)

// ParseMode reads gunicorn's proxy_protocol values: off, v1, v2, auto, and
// the spellings of true and false it accepts for them.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off", "false", "0", "none":
		return Off, nil
	case "v1":
		return V1, nil
	case "v2":
		return V2, nil
	case "auto", "true", "1":
		return Auto, nil
	}
	return Off, fmt.Errorf("%q: expected off, v1, v2 or auto", s)
}

func (m Mode) String() string {
	return [...]string{"off", "v1", "v2", "auto"}[m]
}

// Header is what a PROXY header said. Protocol is gunicorn's PROXY_PROTOCOL:
// TCP4, TCP6 (the addresses are set), UNKNOWN (version 1), LOCAL or UNSPEC
// (version 2; a proxy's own connection, such as a health check, or one
// whose addresses it does not give): then the connection's own addresses
// stand.
type Header struct {
	Version  int
	Protocol string
	Source   netip.AddrPort // the client
	Dest     netip.AddrPort // the address the client connected to
}

// HasAddresses tells whether the header gives the client's address.
func (h *Header) HasAddresses() bool { return h.Source.IsValid() }

// MaxLength is the longest header read. A version 1 header is at most 107
// bytes by the specification; a version 2 one may declare up to 64 KiB of
// extensions (TLVs), which proxies use for a few dozen bytes (an AWS VPC
// endpoint's ID, an Azure Private Link ID, TLS details): a longer one is
// refused rather than buffered.
const MaxLength = 4096

const v1Max = 107

var (
	v1Prefix    = []byte("PROXY ")
	v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// ErrIncomplete says the bytes so far are the start of a header: read more.
var ErrIncomplete = errors.New("proxy protocol: incomplete header")

// ErrNone says the connection does not start with a header of the mode's
// versions: its bytes are the protocol's own.
var ErrNone = errors.New("proxy protocol: no header")

// Error is a malformed header: the connection is refused.
type Error struct{ Reason string }

func (e *Error) Error() string { return "proxy protocol: " + e.Reason }

func malformed(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Parse reads the header at the start of b. It returns the header and its
// length; or ErrIncomplete, ErrNone, or an *Error.
func Parse(b []byte, mode Mode) (Header, int, error) {
	if mode == Off {
		return Header{}, 0, ErrNone
	}
	if mode != V1 {
		if h, n, err := parseV2(b); err != ErrNone {
			return h, n, err
		}
	}
	if mode != V2 {
		return parseV1(b)
	}
	return Header{}, 0, ErrNone
}

// startsWith tells whether b starts with prefix (true) or is shorter and
// a start of it (incomplete).
func startsWith(b, prefix []byte) (yes, incomplete bool) {
	if len(b) < len(prefix) {
		return false, bytes.HasPrefix(prefix, b)
	}
	return bytes.HasPrefix(b, prefix), false
}

// parseV1 reads "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n".
func parseV1(b []byte) (Header, int, error) {
	yes, incomplete := startsWith(b, v1Prefix)
	if incomplete {
		return Header{}, 0, ErrIncomplete
	}
	if !yes {
		return Header{}, 0, ErrNone
	}
	end := bytes.IndexByte(b[:min(len(b), v1Max)], '\n')
	if end < 0 {
		if len(b) >= v1Max {
			return Header{}, 0, malformed("version 1 header longer than %d bytes", v1Max)
		}
		return Header{}, 0, ErrIncomplete
	}
	if end == 0 || b[end-1] != '\r' {
		return Header{}, 0, malformed("version 1 header not ended by CRLF")
	}
	line := string(b[len(v1Prefix) : end-1])
	n := end + 1
	h := Header{Version: 1}
	if rest, ok := strings.CutPrefix(line, "UNKNOWN"); ok && (rest == "" || rest[0] == ' ') {
		// The proxy does not know the addresses: the rest says nothing.
		h.Protocol = "UNKNOWN"
		return h, n, nil
	}
	f := strings.Split(line, " ")
	if len(f) != 5 || (f[0] != "TCP4" && f[0] != "TCP6") {
		return Header{}, 0, malformed("version 1 header %q: expected TCP4 or TCP6, two addresses and two ports", line)
	}
	h.Protocol = f[0]
	src, err1 := v1Addr(f[1], f[3], f[0] == "TCP4")
	dst, err2 := v1Addr(f[2], f[4], f[0] == "TCP4")
	if err := errors.Join(err1, err2); err != nil {
		return Header{}, 0, malformed("version 1 header %q: %v", line, err)
	}
	h.Source, h.Dest = src, dst
	return h, n, nil
}

func v1Addr(ip, port string, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || a.Is4() != v4 || (!v4 && a.Is4In6()) {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IPv%s address", ip, map[bool]string{true: "4", false: "6"}[v4])
	}
	p, ok := v1Port(port)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q is not a port", port)
	}
	return netip.AddrPortFrom(a, p), nil
}

// v1Port reads a decimal port without a sign or leading zeros.
func v1Port(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return uint16(n), n <= 65535
}

// parseV2 reads the binary header: the 12-byte signature, version and
// command, family and transport, the length of the rest, the addresses,
// then extensions, which are skipped.
func parseV2(b []byte) (Header, int, error) {
	yes, incomplete := startsWith(b, v2Signature)
	if incomplete {
		return Header{}, 0, ErrIncomplete
	}
	if !yes {
		return Header{}, 0, ErrNone
	}
	if len(b) < 16 {
		return Header{}, 0, ErrIncomplete
	}
	version, command := b[12]>>4, b[12]&0xf
	family, transport := b[13]>>4, b[13]&0xf
	length := int(binary.BigEndian.Uint16(b[14:16]))
	n := 16 + length
	switch {
	case version != 2:
		return Header{}, 0, malformed("version %d in a version 2 signature", version)
	case command > 1:
		return Header{}, 0, malformed("version 2 command %d (expected LOCAL or PROXY)", command)
	case n > MaxLength:
		return Header{}, 0, malformed("version 2 header of %d bytes: at most %d are read", n, MaxLength)
	case len(b) < n:
		return Header{}, 0, ErrIncomplete
	}
	h := Header{Version: 2}
	if command == 0 {
		// LOCAL: the proxy's own connection; the addresses, if any, are
		// to be ignored.
		h.Protocol = "LOCAL"
		return h, n, nil
	}
	body := b[16:n]
	switch {
	case family == 0:
		h.Protocol = "UNSPEC"
		return h, n, nil
	case transport != 1:
		return Header{}, 0, malformed("version 2 transport %d: only TCP (stream, 1) carries HTTP", transport)
	case family == 1 || family == 2:
		size, protocol := 4, "TCP4"
		if family == 2 {
			size, protocol = 16, "TCP6"
		}
		if len(body) < 2*size+4 {
			return Header{}, 0, malformed("version 2 %s addresses in %d bytes (%d needed)", protocol, len(body), 2*size+4)
		}
		src, _ := netip.AddrFromSlice(body[:size])
		dst, _ := netip.AddrFromSlice(body[size : 2*size])
		ports := body[2*size:]
		h.Protocol = protocol
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2]))
		h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4]))
	case family == 3:
		// A client on the proxy's Unix socket has no address to give.
		h.Protocol = "UNIX"
	default:
		return Header{}, 0, malformed("version 2 address family %d", family)
	}
	return h, n, nil
}
