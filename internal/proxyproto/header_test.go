package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// v2Header encodes a version 2 PROXY header of the TCP over IPv4 or IPv6
// connection from src to dst, with tlv bytes of extensions.
func v2Header(src, dst netip.AddrPort, tlv []byte) []byte {
	var addrs []byte
	family := byte(0x11)
	if src.Addr().Is4() {
		s, d := src.Addr().As4(), dst.Addr().As4()
		addrs = append(append(addrs, s[:]...), d[:]...)
	} else {
		family = 0x21
		s, d := src.Addr().As16(), dst.Addr().As16()
		addrs = append(append(addrs, s[:]...), d[:]...)
	}
	addrs = binary.BigEndian.AppendUint16(addrs, src.Port())
	addrs = binary.BigEndian.AppendUint16(addrs, dst.Port())
	addrs = append(addrs, tlv...)
	b := append([]byte{}, v2Signature...)
	b = append(b, 0x21, family)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return append(b, addrs...)
}

func v1Header(src, dst netip.AddrPort) []byte {
	proto := "TCP4"
	if src.Addr().Is6() {
		proto = "TCP6"
	}
	return []byte("PROXY " + proto + " " + src.Addr().String() + " " + dst.Addr().String() + " " +
		strconv.Itoa(int(src.Port())) + " " + strconv.Itoa(int(dst.Port())) + "\r\n")
}

var (
	src4 = netip.MustParseAddrPort("203.0.113.7:56324")
	dst4 = netip.MustParseAddrPort("198.51.100.1:443")
	src6 = netip.MustParseAddrPort("[2001:db8::7]:65535")
	dst6 = netip.MustParseAddrPort("[2001:db8::1]:0")
)

// Good headers of both versions give their addresses and length, in every
// mode that reads their version; every shorter start of them is
// incomplete; the bytes after them are not read.
func TestParseGood(t *testing.T) {
	for _, c := range []struct {
		name     string
		header   []byte
		version  int
		protocol string
		src, dst netip.AddrPort
	}{
		{"v1 TCP4", v1Header(src4, dst4), 1, "TCP4", src4, dst4},
		{"v1 TCP6", v1Header(src6, dst6), 1, "TCP6", src6, dst6},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), 1, "UNKNOWN", netip.AddrPort{}, netip.AddrPort{}},
		{"v1 UNKNOWN with addresses", []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), 1, "UNKNOWN", netip.AddrPort{}, netip.AddrPort{}},
		{"v1 longest", []byte("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 1, "UNKNOWN", netip.AddrPort{}, netip.AddrPort{}},
		{"v1 longest TCP6", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 1, "TCP6",
			netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")},
		{"v2 TCP4", v2Header(src4, dst4, nil), 2, "TCP4", src4, dst4},
		{"v2 TCP6", v2Header(src6, dst6, nil), 2, "TCP6", src6, dst6},
		{"v2 with extensions", v2Header(src4, dst4, []byte("\x05\x00\x04abcd\x01\x00\x02h2")), 2, "TCP4", src4, dst4},
		{"v2 longest", v2Header(src4, dst4, make([]byte, MaxLength-16-12)), 2, "TCP4", src4, dst4},
		{"v2 LOCAL", append(append([]byte{}, v2Signature...), 0x20, 0x00, 0, 0), 2, "LOCAL", netip.AddrPort{}, netip.AddrPort{}},
		{"v2 LOCAL with addresses", append(append([]byte{}, v2Signature...), 0x20, 0x11, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2), 2, "LOCAL", netip.AddrPort{}, netip.AddrPort{}},
		{"v2 UNSPEC", append(append([]byte{}, v2Signature...), 0x21, 0x00, 0, 0), 2, "UNSPEC", netip.AddrPort{}, netip.AddrPort{}},
		{"v2 UNIX", append(append(append([]byte{}, v2Signature...), 0x21, 0x31, 0, 216), make([]byte, 216)...), 2, "UNIX", netip.AddrPort{}, netip.AddrPort{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "v1 longest" && len(c.header) != v1Max {
				t.Fatalf("the longest version 1 header is %d bytes, not %d", len(c.header), v1Max)
			}
			after := []byte("GET / HTTP/1.1\r\n")
			for _, mode := range []Mode{Auto, Mode(c.version)} {
				h, n, err := Parse(append(append([]byte{}, c.header...), after...), mode)
				if err != nil || n != len(c.header) {
					t.Fatalf("%v: %v, %d bytes, want %d", mode, err, n, len(c.header))
				}
				want := Header{Version: c.version, Protocol: c.protocol, Source: c.src, Dest: c.dst}
				if h != want {
					t.Errorf("%v: %+v, want %+v", mode, h, want)
				}
				if h.HasAddresses() != c.src.IsValid() {
					t.Errorf("HasAddresses %v", h.HasAddresses())
				}
				for k := 1; k < len(c.header); k++ {
					if _, _, err := Parse(c.header[:k], mode); err != ErrIncomplete {
						t.Fatalf("%v: the first %d bytes: %v, want incomplete", mode, k, err)
					}
				}
			}
			other := Mode(3 - c.version)
			if _, _, err := Parse(c.header, other); err != ErrNone {
				t.Errorf("%v reads version %d: %v", other, c.version, err)
			}
			if _, _, err := Parse(c.header, Off); err != ErrNone {
				t.Errorf("off: %v", err)
			}
		})
	}
}

// What is not a header is the protocol's own; what starts like one and
// goes wrong is an error, never a header.
func TestParseBad(t *testing.T) {
	for _, none := range []string{"GET / HTTP/1.1\r\n", "\x16\x03\x01\x02\x00", "PROXY", "PRI * HTTP/2.0\r\n", "\r\n\r\nGET /", "proxy TCP4"} {
		_, _, err := Parse([]byte(none), Auto)
		if none == "PROXY" {
			if err != ErrIncomplete {
				t.Errorf("%q: %v, want incomplete", none, err)
			}
			continue
		}
		if err != ErrNone {
			t.Errorf("%q: %v, want no header", none, err)
		}
	}
	sig := string(v2Signature)
	for _, bad := range []string{
		"PROXY TCP4 203.0.113.7 198.51.100.1 56324 443\n",         // bare LF
		"PROXY TCP4 203.0.113.7 198.51.100.1 56324 443\r\r\n",     // CR inside
		"PROXY TCP4 203.0.113.7 198.51.100.1 56324\r\n",           // a port missing
		"PROXY TCP4 203.0.113.7 198.51.100.1 56324 443 1\r\n",     // one too many
		"PROXY TCP4  203.0.113.7 198.51.100.1 56324 443\r\n",      // two spaces
		"PROXY TCP4 203.0.113.7 198.51.100.1 56324 65536\r\n",     // port too large
		"PROXY TCP4 203.0.113.7 198.51.100.1 056324 443\r\n",      // leading zero
		"PROXY TCP4 203.0.113.7 198.51.100.1 +5632 443\r\n",       // sign
		"PROXY TCP4 203.0.113.7 198.51.100.1 -1 443\r\n",          // sign
		"PROXY TCP4 2001:db8::7 198.51.100.1 56324 443\r\n",       // IPv6 as TCP4
		"PROXY TCP6 203.0.113.7 2001:db8::1 56324 443\r\n",        // IPv4 as TCP6
		"PROXY TCP6 ::ffff:203.0.113.7 2001:db8::1 56324 443\r\n", // mapped IPv4 as TCP6
		"PROXY TCP6 fe80::1%eth0 2001:db8::1 56324 443\r\n",       // zone
		"PROXY TCP4 203.0.113.007 198.51.100.1 56324 443\r\n",     // octal-looking
		"PROXY UDP4 203.0.113.7 198.51.100.1 56324 443\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n",     // longer than 107
		sig + "\x11\x11\x00\x0c" + strings.Repeat("\x00", 12), // version 1 in a v2 signature
		sig + "\x22\x11\x00\x0c" + strings.Repeat("\x00", 12), // command 2
		sig + "\x21\x12\x00\x0c" + strings.Repeat("\x00", 12), // UDP
		sig + "\x21\x11\x00\x0b" + strings.Repeat("\x00", 11), // IPv4 in 11 bytes
		sig + "\x21\x21\x00\x23" + strings.Repeat("\x00", 35), // IPv6 in 35 bytes
		sig + "\x21\x41\x00\x00",                              // family 4
		sig + "\x21\x11\x0f\xf1",                              // longer than MaxLength
	} {
		h, n, err := Parse([]byte(bad), Auto)
		if _, ok := err.(*Error); !ok {
			t.Errorf("%q: %+v, %d, %v: want an error", bad, h, n, err)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Off, "off": Off, "False": Off, "0": Off, "none": Off,
		"v1": V1, "V2": V2, "auto": Auto, "true": Auto, "1": Auto, " auto ": Auto} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, m, err, want)
		}
	}
	if _, err := ParseMode("v3"); err == nil {
		t.Error("v3 accepted")
	}
}

// FuzzHeader: whatever the bytes, Parse returns a header only with a length
// within them, and every start of those is incomplete; a header with
// addresses encodes back to bytes that parse to it; an error is never
// given for the start of a good header.
func FuzzHeader(f *testing.F) {
	f.Add(v1Header(src4, dst4), uint8(Auto))
	f.Add(v1Header(src6, dst6), uint8(V1))
	f.Add([]byte("PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n\r\n"), uint8(Auto))
	f.Add(v2Header(src4, dst4, []byte("\x05\x00\x04abcd")), uint8(Auto))
	f.Add(v2Header(src6, dst6, nil), uint8(V2))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(Auto))
	f.Fuzz(func(t *testing.T, b []byte, m uint8) {
		mode := Mode(m % 4)
		h, n, err := Parse(b, mode)
		switch err {
		case nil:
		case ErrNone, ErrIncomplete:
			if n != 0 || h != (Header{}) {
				t.Fatalf("%v with a header %+v, %d", err, h, n)
			}
			return
		default:
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if n <= 0 || n > len(b) || n > MaxLength {
			t.Fatalf("length %d of %d bytes", n, len(b))
		}
		if mode == Off || (mode == V1 && h.Version != 1) || (mode == V2 && h.Version != 2) {
			t.Fatalf("mode %v read a version %d header", mode, h.Version)
		}
		for k := 0; k < n; k++ {
			if _, _, err := Parse(b[:k], mode); err != ErrIncomplete {
				t.Fatalf("the header's first %d bytes: %v", k, err)
			}
		}
		if h2, n2, err := Parse(b[:n], mode); err != nil || h2 != h || n2 != n {
			t.Fatalf("the header alone: %+v %d %v", h2, n2, err)
		}
		if !h.HasAddresses() {
			return
		}
		if h.Source.Addr().Is4() != h.Dest.Addr().Is4() || (h.Protocol == "TCP4") != h.Source.Addr().Is4() {
			t.Fatalf("addresses %v %v for %s", h.Source, h.Dest, h.Protocol)
		}
		again := v2Header(h.Source, h.Dest, nil)
		if h.Version == 1 {
			again = v1Header(h.Source, h.Dest)
		}
		if h2, n2, err := Parse(again, mode); err != nil || h2 != h || n2 != len(again) {
			t.Fatalf("%+v encoded as %q parses to %+v %d %v", h, again, h2, n2, err)
		}
	})
}
