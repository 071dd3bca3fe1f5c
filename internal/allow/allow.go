// Package allow reads gunicorn's lists of trusted peers ("127.0.0.1,::1",
// "10.0.0.0/8", "*") and tells whether an address is in one.
package allow

import (
	"fmt"
	"net/netip"
	"strings"
)

// List is a parsed allow list. The zero List allows nobody.
type List struct {
	any      bool
	prefixes []netip.Prefix
}

// Parse reads a comma-separated list of IP addresses and CIDR networks, or
// "*" for any peer. As gunicorn (Python's ip_network, strict), a network
// with host bits set, such as 192.168.1.1/24, is a mistake.
func Parse(list string) (List, error) {
	return ParseAll(strings.Split(list, ","))
}

// ParseAll reads the entries of a list.
func ParseAll(entries []string) (List, error) {
	var l List
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			continue
		case e == "*":
			l.any = true
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return List{}, fmt.Errorf("%q is not an IP network", e)
			}
			if p.Masked() != p {
				return List{}, fmt.Errorf("%q has host bits set (the network is %s)", e, p.Masked())
			}
			l.prefixes = append(l.prefixes, p)
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return List{}, fmt.Errorf("%q is not an IP address", e)
		}
		l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return l, nil
}

// Any tells whether the list is "*".
func (l List) Any() bool { return l.any }

// Allows tells whether the peer at ip (an address as a string, IPv6
// without brackets) is in the list. A peer without an IP address, on a
// Unix socket, always is, as in gunicorn.
func (l List) Allows(ip string) bool {
	if l.any || ip == "" {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
