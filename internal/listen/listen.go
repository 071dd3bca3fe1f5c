// Package listen opens the listening sockets of --bind (or takes those
// systemd passed) in the master process, and turns the descriptors a worker
// inherits back into listeners.
package listen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultPort is gunicorn's port for a bind address that names none.
const DefaultPort = "8000"

// Options of the sockets the master opens.
type Options struct {
	ReusePort  bool        // SO_REUSEPORT on TCP sockets
	SocketMode os.FileMode // permissions of Unix socket files (0: as created)
	// Backlog is the length of the queue of connections not yet accepted
	// (gunicorn's --backlog); 0 leaves the system's (net.core.somaxconn).
	Backlog int
	// Umask is the file mode mask Unix socket files are created with
	// (gunicorn's --umask, default 0: anyone may connect, as under
	// gunicorn; --socket-mode narrows it).
	Umask int
	// UID and GID, when not -1, own the Unix socket files: the workers'
	// --user and --group, as gunicorn chowns them.
	UID, GID int
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

// Release closes the descriptor only: another process (a new master)
// serves the socket on.
func (s Socket) Release() { s.File.Close() }

// Adopt takes the n sockets a master started by SIGUSR2 inherits, from
// descriptor 3, with the protocols its parent named (WorkerEnv). Their
// Unix socket files are its own to remove once its parent is gone.
func Adopt(n int) ([]Socket, error) {
	protocols := strings.Split(os.Getenv(envProtocols), ",")
	os.Unsetenv(envProtocols)
	var out []Socket
	for i := 0; i < n; i++ {
		s, err := FromFile(os.NewFile(uintptr(3+i), fmt.Sprintf("inherited socket %d", i)))
		if err != nil {
			return out, err
		}
		if path, ok := strings.CutPrefix(s.Name, "unix:"); ok {
			s.path = path
		}
		if i < len(protocols) && protocols[i] != "" && protocols[i] != HTTP {
			s.Protocol = protocols[i]
			s.Name = s.Protocol + ":" + strings.TrimPrefix(s.Name, "http:")
		}
		out = append(out, s)
	}
	return out, nil
}

// Open opens the sockets of one --bind address, in gunicorn's forms:
// "HOST:PORT", "HOST" (port 8000), "[IPV6]:PORT", ":PORT" (all interfaces),
// "unix:PATH", and "fd://N" (a descriptor this process inherited); each
// may have a protocol in front for a front server to talk to:
// "fcgi://HOST:PORT", "fcgi:unix:PATH", "uwsgi://HOST:PORT",
// "uwsgi:unix:PATH". A host name is resolved and every address it has is
// bound: "localhost:8000" listens on 127.0.0.1 and ::1.
func Open(address string, opts Options) ([]Socket, error) {
	protocol, rest := splitProtocol(address)
	var sockets []Socket
	if n, ok := strings.CutPrefix(rest, "fd://"); ok {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < 0 {
			return nil, fmt.Errorf("bind %q: expected fd://NUMBER", address)
		}
		s, err := FromFile(os.NewFile(uintptr(fd), rest))
		if err != nil {
			return nil, err
		}
		sockets = []Socket{s}
	} else {
		b, err := Parse(rest)
		if err != nil {
			return nil, err
		}
		if sockets, err = b.open(opts); err != nil {
			return nil, err
		}
	}
	for i := range sockets {
		sockets[i].Protocol = protocol
		if protocol != HTTP {
			sockets[i].Name = protocol + ":" + strings.TrimPrefix(sockets[i].Name, "http:")
		}
	}
	return sockets, nil
}

// Bind is a parsed --bind address.
type Bind struct {
	Address string // as given
	Network string // "unix" or "tcp"
	Path    string // of a Unix socket
	Host    string // "" for all interfaces; an IP address or a name to resolve
	Port    string
}

// Parse reads a --bind address without its protocol: "unix:PATH",
// "HOST:PORT", "[IPV6]:PORT", ":PORT" or "HOST". It resolves nothing.
func Parse(address string) (Bind, error) {
	b := Bind{Address: address}
	switch {
	case address == "":
		return b, errors.New("empty bind address")
	case strings.HasPrefix(address, "unix:"):
		b.Network, b.Path = "unix", strings.TrimPrefix(strings.TrimPrefix(address, "unix:"), "//")
		if b.Path == "" {
			return b, fmt.Errorf("bind %q: no socket path", address)
		}
		return b, nil
	case strings.Contains(address, "://"):
		return b, fmt.Errorf("bind %q: unsupported scheme (use HOST:PORT, unix:PATH, fd://N, fcgi://HOST:PORT, fcgi:unix:PATH, uwsgi://HOST:PORT or uwsgi:unix:PATH)", address)
	}
	b.Network = "tcp"
	var err error
	if b.Host, b.Port, err = net.SplitHostPort(address); err != nil {
		// No port: "localhost", "[::1]", "::1".
		b.Host, b.Port = strings.Trim(address, "[]"), DefaultPort
		if isNumber(b.Host) {
			return b, fmt.Errorf("bind %q: a port alone is written \":%s\" (all interfaces) or \"127.0.0.1:%s\"", address, b.Host, b.Host)
		}
	}
	if b.Host != "" && !validHost(b.Host) {
		return b, fmt.Errorf("bind %q: %q is neither an IP address nor a host name", address, b.Host)
	}
	if n, err := strconv.Atoi(b.Port); err != nil || n < 0 || n > 65535 {
		if _, err := net.LookupPort("tcp", b.Port); err != nil {
			return b, fmt.Errorf("bind %q: invalid port %q", address, b.Port)
		}
	}
	return b, nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// validHost: an IP address, or a name made of letters, digits, '-', '.'
// and '_' (what a resolver could know).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return h != "" && h[0] != '-' && h[0] != '.'
}

// resolveTimeout bounds the lookup of a host name to bind.
const resolveTimeout = 10 * time.Second

// listenAddrs are the (network, address) pairs to listen on for b: an IPv4
// address only over IPv4 ("0.0.0.0:8000" is not [::]), "[::]:PORT" and
// ":PORT" over both, a name on each address it resolves to.
func (b Bind) listenAddrs() ([][2]string, error) {
	if b.Network == "unix" {
		return [][2]string{{"unix", b.Path}}, nil
	}
	if b.Host == "" {
		return [][2]string{{"tcp", ":" + b.Port}}, nil
	}
	if ip := net.ParseIP(b.Host); ip != nil {
		if ip.To4() != nil {
			return [][2]string{{"tcp4", net.JoinHostPort(b.Host, b.Port)}}, nil
		}
		return [][2]string{{"tcp", net.JoinHostPort(b.Host, b.Port)}}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, b.Host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			err = errors.New(de.Err)
		}
		return nil, fmt.Errorf("bind %q: cannot resolve %q: %v", b.Address, b.Host, err)
	}
	var out [][2]string
	seen := map[string]bool{}
	for _, ip := range ips {
		addr := net.JoinHostPort(ip.IP.String(), b.Port)
		if seen[addr] {
			continue
		}
		seen[addr] = true
		network := "tcp6"
		if ip.IP.To4() != nil {
			network = "tcp4"
		}
		out = append(out, [2]string{network, addr})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bind %q: %q has no address", b.Address, b.Host)
	}
	return out, nil
}

// open binds every address of b. Of a name's addresses, one the machine
// cannot bind (::1 on a host without IPv6) is skipped with the others
// bound; if none can be, the first error is returned.
func (b Bind) open(opts Options) ([]Socket, error) {
	addrs, err := b.listenAddrs()
	if err != nil {
		return nil, err
	}
	var sockets []Socket
	var first error
	for _, a := range addrs {
		s, err := listenOne(a[0], a[1], b.Address, opts)
		if err != nil {
			if len(addrs) > 1 && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
				first = cmp.Or(first, err)
				continue
			}
			for _, s := range sockets {
				s.Close()
			}
			return nil, err
		}
		sockets = append(sockets, s)
	}
	if len(sockets) == 0 {
		return nil, first
	}
	return sockets, nil
}

func listenOne(network, addr, address string, opts Options) (Socket, error) {
	var lc net.ListenConfig
	if opts.ReusePort && network != "unix" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			return errors.Join(err, serr)
		}
	}
	if network == "unix" {
		// A socket file left by a previous run would make bind fail; any
		// other file is not ours to remove.
		if fi, err := os.Lstat(addr); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return Socket{}, fmt.Errorf("bind %q: %s exists and is not a socket", address, addr)
			}
			os.Remove(addr)
		}
		// The mask applies to the socket file bind creates; the process's
		// own is put back at once (nothing else runs meanwhile).
		defer syscall.Umask(syscall.Umask(opts.Umask & 0o777))
	}
	ln, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		return Socket{}, fmt.Errorf("cannot bind %s: %w", address, unwrapOp(err))
	}
	defer ln.Close()
	s := Socket{Name: URL(ln)}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the workers go on using it
		s.path = addr
		err = own(addr, opts)
	}
	if err == nil {
		s.File, err = fileOf(ln.(syscall.Conn), address)
	}
	if err == nil && opts.Backlog > 0 {
		// listen(2) again on a listening socket sets its backlog.
		err = unix.Listen(int(s.File.Fd()), opts.Backlog)
	}
	if err != nil {
		s.Close()
		return Socket{}, fmt.Errorf("bind %s: %w", address, err)
	}
	return s, nil
}

// fileOf duplicates a listener's descriptor into an os.File that leaves the
// socket's mode alone. The copy TCPListener.File makes puts the socket,
// whose mode every worker shares, into blocking mode each time its Fd is
// called, which os/exec does to start each worker: until the new worker
// set it back, a worker's accept blocked in a system call, where closing
// its listener cannot interrupt it, and its graceful stop waited for the
// next connection.
func fileOf(ln syscall.Conn, name string) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// own gives a Unix socket file its --socket-mode and the workers' owner.
func own(path string, opts Options) error {
	if opts.SocketMode != 0 {
		if err := os.Chmod(path, opts.SocketMode); err != nil {
			return err
		}
	}
	if opts.UID >= 0 || opts.GID >= 0 {
		return os.Lchown(path, opts.UID, opts.GID)
	}
	return nil
}

// unwrapOp keeps the reason of a failed listen, without the "listen tcp4
// 0.0.0.0:80:" prefix that repeats the address.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
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

// URL is how the log names a listener: http://127.0.0.1:8000 or
// unix:/run/app.sock.
func URL(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}
