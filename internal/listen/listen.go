// Package listen opens the sockets named by --bind.
package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// DefaultPort is gunicorn's port for a bind address that names none.
const DefaultPort = "8000"

// Listen opens a listening socket for one --bind address, in gunicorn's
// forms: "HOST:PORT", "HOST" (port 8000), "[IPV6]:PORT", ":PORT" (all
// interfaces) and "unix:PATH".
func Listen(address string) (net.Listener, error) {
	network, addr, err := Parse(address)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		// A socket file left by a previous run would make bind fail.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(addr)
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", address, err)
	}
	return ln, nil
}

// Parse splits a --bind address into a network and an address for
// net.Listen.
func Parse(address string) (network, addr string, err error) {
	switch {
	case address == "":
		return "", "", errors.New("empty bind address")
	case strings.HasPrefix(address, "unix:"):
		path := strings.TrimPrefix(strings.TrimPrefix(address, "unix:"), "//")
		if path == "" {
			return "", "", fmt.Errorf("bind %q: no socket path", address)
		}
		return "unix", path, nil
	case strings.Contains(address, "://"):
		return "", "", fmt.Errorf("bind %q: unsupported scheme (use HOST:PORT or unix:PATH)", address)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		// No port: "localhost", "[::1]", "::1".
		host, port = strings.Trim(address, "[]"), DefaultPort
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", "", fmt.Errorf("bind %q: invalid port %q", address, port)
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// URL is how the log names a listener: http://127.0.0.1:8000 or
// unix:/run/app.sock.
func URL(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}
