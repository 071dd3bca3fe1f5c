package gowsgi

// The PROXY protocol on the listeners net/http serves (TLS, HTTP/2), and
// the settings both HTTP front ends read.

import (
	"fmt"
	"net"
	"time"

	"github.com/gowsgi/gowsgi/internal/allow"
	"github.com/gowsgi/gowsgi/internal/proxyproto"
)

// ProxyProtocolListener wraps ln, whose connections a net/http server
// serves with an App as handler (for TLS, call it on the plain listener,
// before tls.NewListener or ServeTLS): each connection may start with a
// PROXY protocol header (mode "v1", "v2" or "auto"; "off" returns ln) from
// a peer in allowFrom (nil: 127.0.0.1 and ::1), which becomes its
// requests' REMOTE_ADDR, as Server.ProxyProtocol does for the engine. The
// header is read on the connection's goroutine, not in Accept, within
// timeout (0: none); a malformed or unallowed one closes the connection.
func ProxyProtocolListener(ln net.Listener, mode string, allowFrom []string, timeout time.Duration) (net.Listener, error) {
	m, peers, err := proxySettings(mode, allowFrom)
	if err != nil || m == proxyproto.Off {
		return ln, err
	}
	return &proxyproto.Listener{Listener: ln, Mode: m, Allow: peers, Timeout: timeout}, nil
}

// proxySettings reads ProxyProtocol and ProxyAllowFrom.
func proxySettings(mode string, allowFrom []string) (proxyproto.Mode, allow.List, error) {
	m, err := proxyproto.ParseMode(mode)
	if err != nil {
		return m, allow.List{}, fmt.Errorf("gowsgi: ProxyProtocol %w", err)
	}
	if allowFrom == nil {
		allowFrom = []string{"127.0.0.1", "::1"}
	}
	peers, err := allow.ParseAll(allowFrom)
	if err != nil {
		return m, peers, fmt.Errorf("gowsgi: ProxyAllowFrom: %w", err)
	}
	return m, peers, nil
}
