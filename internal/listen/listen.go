// Package listen opens the listening sockets of --bind (or takes those
// systemd passed) in the master process, and turns the descriptors a worker
// inherits back into listeners.
package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultPort is gunicorn's port for a bind address that names none.
const DefaultPort = "8000"

// Options of the sockets the master opens.
type Options struct {
	ReusePort  bool        // SO_REUSEPORT on TCP sockets
	SocketMode os.FileMode // permissions of Unix socket files (0: as created)
}

// Protocols a socket serves.
const (
	HTTP    = "http"  // HTTP/1.1, gowsgi's own engine
	FastCGI = "fcgi"  // a FastCGI responder (fcgi://HOST:PORT, fcgi:unix:PATH)
	UWSGI   = "uwsgi" // the uwsgi protocol (uwsgi://HOST:PORT, uwsgi:unix:PATH)
)

// Socket is a listening socket the master holds for its workers.
type Socket struct {
	File     *os.File // the descriptor workers inherit
	Name     string   // how logs name it: http://127.0.0.1:8000, unix:/run/app.sock, fcgi://127.0.0.1:9000
	Protocol string   // HTTP, FastCGI or UWSGI
	path     string   // a Unix socket file this process created
}

// Listener is a listening socket of a worker and the protocol it serves.
type Listener struct {
	net.Listener
	Protocol string
}

// envProtocols tells a worker the protocol of each socket it inherits:
// "http,fcgi,...", in the order of the sockets.
const envProtocols = "_GOWSGI_PROTOCOLS"

// WorkerEnv is the environment entry that tells the workers the protocols
// of sockets.
func WorkerEnv(sockets []Socket) string {
	names := make([]string, len(sockets))
	for i, s := range sockets {
		names[i] = s.Protocol
	}
	return envProtocols + "=" + strings.Join(names, ",")
}

// splitProtocol takes the protocol off a --bind address:
// "fcgi://127.0.0.1:9000", "fcgi:unix:/run/app.sock", and the same with
// uwsgi; any other address is HTTP.
func splitProtocol(address string) (protocol, rest string) {
	for _, p := range []string{FastCGI, UWSGI} {
		if rest, ok := strings.CutPrefix(address, p+"://"); ok {
			return p, rest
		}
		if rest, ok := strings.CutPrefix(address, p+":unix:"); ok {
			return p, "unix:" + rest
		}
	}
	return HTTP, address
}

// Close closes the descriptor and removes a Unix socket file this process
// created.
func (s Socket) Close() {
	s.File.Close()
	if s.path != "" {
		os.Remove(s.path)
	}
}

// Open opens a socket for one --bind address, in gunicorn's forms:
// "HOST:PORT", "HOST" (port 8000), "[IPV6]:PORT", ":PORT" (all interfaces),
// "unix:PATH", and "fd://N" (a descriptor this process inherited); each
// may have a protocol in front for a front server to talk to:
// "fcgi://HOST:PORT", "fcgi:unix:PATH", "uwsgi://HOST:PORT",
// "uwsgi:unix:PATH".
func Open(address string, opts Options) (Socket, error) {
	protocol, address := splitProtocol(address)
	s, err := open(address, opts)
	if err != nil {
		return s, err
	}
	s.Protocol = protocol
	if protocol != HTTP {
		s.Name = protocol + ":" + strings.TrimPrefix(s.Name, "http:")
	}
	return s, nil
}

func open(address string, opts Options) (Socket, error) {
	if n, ok := strings.CutPrefix(address, "fd://"); ok {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < 0 {
			return Socket{}, fmt.Errorf("bind %q: expected fd://NUMBER", address)
		}
		f := os.NewFile(uintptr(fd), address)
		return FromFile(f)
	}
	network, addr, err := Parse(address)
	if err != nil {
		return Socket{}, err
	}
	var lc net.ListenConfig
	if opts.ReusePort && network == "tcp" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			return errors.Join(err, serr)
		}
	}
	if network == "unix" {
		// A socket file left by a previous run would make bind fail.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(addr)
		}
	}
	ln, err := lc.Listen(nil, network, addr)
	if err != nil {
		return Socket{}, fmt.Errorf("cannot bind %s: %w", address, err)
	}
	defer ln.Close()
	s := Socket{Name: URL(ln)}
	switch l := ln.(type) {
	case *net.TCPListener:
		s.File, err = l.File()
	case *net.UnixListener:
		l.SetUnlinkOnClose(false) // the workers go on using it
		s.path = addr
		if opts.SocketMode != 0 {
			if err := os.Chmod(addr, opts.SocketMode); err != nil {
				os.Remove(addr)
				return Socket{}, fmt.Errorf("bind %s: %w", address, err)
			}
		}
		s.File, err = l.File()
	}
	if err != nil {
		s.Close()
		return Socket{}, fmt.Errorf("bind %s: %w", address, err)
	}
	return s, nil
}

// FromFile adopts an inherited descriptor (fd://N, systemd's sockets),
// which must be a listening stream socket.
func FromFile(f *os.File) (Socket, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return Socket{}, fmt.Errorf("descriptor %s is not a listening socket: %w", f.Name(), err)
	}
	defer ln.Close() // a duplicate: f stays open
	return Socket{File: f, Name: URL(ln), Protocol: HTTP}, nil
}

// Listeners turns the descriptors a worker inherited into listeners, with
// the protocols the master named in the environment (HTTP if it named
// none).
func Listeners(files []*os.File) ([]Listener, error) {
	var protocols []string
	if v, ok := os.LookupEnv(envProtocols); ok {
		os.Unsetenv(envProtocols) // not for the application's subprocesses
		protocols = strings.Split(v, ",")
	}
	var out []Listener
	for i, f := range files {
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("inherited socket %s: %w", f.Name(), err)
		}
		f.Close() // FileListener made its own copy
		protocol := HTTP
		if i < len(protocols) {
			protocol = protocols[i]
		}
		out = append(out, Listener{Listener: ln, Protocol: protocol})
	}
	return out, nil
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
		return "", "", fmt.Errorf("bind %q: unsupported scheme (use HOST:PORT, unix:PATH, fd://N, fcgi://HOST:PORT, fcgi:unix:PATH, uwsgi://HOST:PORT or uwsgi:unix:PATH)", address)
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
