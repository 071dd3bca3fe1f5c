package core

// What a PROXY protocol header says of a connection, in its requests'
// environ: the client's address as REMOTE_ADDR and REMOTE_PORT, and
// gunicorn's PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT.

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/gowsgi/gowsgi/internal/proxyproto"
)

// Proxied is what a connection's PROXY header said.
type Proxied struct {
	Protocol         string // TCP4, TCP6, UNKNOWN, LOCAL, UNSPEC or UNIX
	DestIP, DestPort string // PROXY_ADDR, PROXY_PORT: the address the client connected to
	ProxyIP          string // the socket's peer, which sent the header
}

// newProxied is what h says, sent by the peer at proxyIP.
func newProxied(h *proxyproto.Header, proxyIP string) *Proxied {
	p := &Proxied{Protocol: h.Protocol, ProxyIP: proxyIP}
	if h.HasAddresses() {
		p.DestIP, p.DestPort = splitAddrPort(h.Dest)
	}
	return p
}

func splitAddrPort(a netip.AddrPort) (ip, port string) {
	return a.Addr().Unmap().String(), strconv.Itoa(int(a.Port()))
}

// TakeProxyHeader makes the peer the client a PROXY header names. Trust in
// forwarded headers stays with the socket's peer: the proxy.
func (p *Peer) TakeProxyHeader(h *proxyproto.Header) {
	p.Proxied = newProxied(h, p.RemoteIP)
	if h.HasAddresses() {
		p.RemoteIP, p.RemotePort = splitAddrPort(h.Source)
	}
}

// trustedIP is the address whose trust in forwarded headers is judged:
// the socket's peer.
func (p *Peer) trustedIP() string {
	if p.Proxied != nil {
		return p.Proxied.ProxyIP
	}
	return p.RemoteIP
}

// setProxied adds gunicorn's variables of a PROXY header.
func setProxied(r *Request, p *Proxied) {
	if p == nil {
		return
	}
	setNamedVar(r, "PROXY_PROTOCOL", p.Protocol)
	if p.DestIP != "" {
		setNamedVar(r, "PROXY_ADDR", p.DestIP)
		setNamedVar(r, "PROXY_PORT", p.DestPort)
	}
}

// httpProxied is the PROXY header of a net/http request's connection, if
// it came through a proxyproto.Listener and sent one (the connection's
// RemoteAddr, hr.RemoteAddr, is the client already), and the socket's
// local address.
func httpProxied(hr *http.Request) (*Proxied, net.Addr) {
	a, ok := hr.Context().Value(http.LocalAddrContextKey).(proxyproto.Addr)
	if !ok {
		return nil, nil
	}
	h := a.Conn.Header()
	if h == nil {
		return nil, a.Addr
	}
	return newProxied(h, peerIP(a.Conn.Proxy().String())), a.Addr
}
