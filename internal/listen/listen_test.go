package listen

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for addr, want := range map[string]Bind{
		"127.0.0.1:80":   {Network: "tcp", Host: "127.0.0.1", Port: "80"},
		"localhost":      {Network: "tcp", Host: "localhost", Port: "8000"},
		":9000":          {Network: "tcp", Host: "", Port: "9000"},
		"[::1]:81":       {Network: "tcp", Host: "::1", Port: "81"},
		"unix:/run/x":    {Network: "unix", Path: "/run/x"},
		"unix:///run/x":  {Network: "unix", Path: "/run/x"},
		"example.com:80": {Network: "tcp", Host: "example.com", Port: "80"},
	} {
		b, err := Parse(addr)
		want.Address = addr
		if err != nil || b != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", addr, b, err, want)
		}
	}
	for addr, why := range map[string]string{
		"8000":        `":8000"`,
		"":            "empty",
		"host:port":   "invalid port",
		"bad host:80": "neither an IP address nor a host name",
		"tcp://x:1":   "unsupported scheme",
		"unix:":       "no socket path",
		"[::1]:99999": "invalid port",
	} {
		if _, err := Parse(addr); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("Parse(%q): %v, want an error saying %s", addr, err, why)
		}
	}
}

// 0.0.0.0 is IPv4 only; a name binds each of its addresses; one that does
// not resolve is one line, not a crash.
func TestOpen(t *testing.T) {
	socks, err := Open("0.0.0.0:0", Options{UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 || !strings.HasPrefix(socks[0].Name, "http://0.0.0.0:") {
		t.Errorf("0.0.0.0: %v", names(socks))
	}
	sa, err := syscall.Getsockname(int(socks[0].File.Fd()))
	if _, ok := sa.(*syscall.SockaddrInet4); err != nil || !ok {
		t.Errorf("0.0.0.0 is bound as %T (%v), want an IPv4 socket", sa, err)
	}
	closeAll(socks)

	socks, err = Open("localhost:0", Options{UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := net.LookupIP("localhost")
	if len(socks) == 0 || len(socks) > len(want) {
		t.Errorf("localhost (%v): %v", want, names(socks))
	}
	for _, s := range socks {
		if !strings.HasPrefix(s.Name, "http://127.0.0.1:") && !strings.HasPrefix(s.Name, "http://[::1]:") {
			t.Errorf("localhost bound %s", s.Name)
		}
	}
	closeAll(socks)

	if _, err := Open("no-such-host.invalid:80", Options{}); err == nil || !strings.Contains(err.Error(), "cannot resolve") {
		t.Errorf("an unknown host: %v", err)
	}
}

// Unix socket files get the umask, --socket-mode, and are not taken over
// when something else has the name.
func TestUnixSocketFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sock")
	for _, c := range []struct {
		opts Options
		mode os.FileMode
	}{
		{Options{UID: -1, GID: -1}, 0o777},
		{Options{Umask: 0o027, UID: -1, GID: -1}, 0o750},
		{Options{Umask: 0o027, SocketMode: 0o600, UID: -1, GID: -1}, 0o600},
	} {
		socks, err := Open("unix:"+path, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != c.mode {
			t.Errorf("%+v: mode %v (%v), want %v", c.opts, fi.Mode().Perm(), err, c.mode)
		}
		closeAll(socks)
	}
	plain := filepath.Join(dir, "file")
	os.WriteFile(plain, []byte("x"), 0o644)
	if _, err := Open("unix:"+plain, Options{}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a file: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "x" {
		t.Errorf("the file was touched")
	}
}

func names(socks []Socket) []string {
	var out []string
	for _, s := range socks {
		out = append(out, s.Name)
	}
	return out
}

func closeAll(socks []Socket) {
	for _, s := range socks {
		s.Close()
	}
}

// The socket stays non-blocking whatever is done with its File (os/exec
// calls Fd to pass it to each worker, and every worker shares its mode).
func TestSocketStaysNonBlocking(t *testing.T) {
	socks, err := Open("127.0.0.1:0", Options{Backlog: 64, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(socks)
	fd := socks[0].File.Fd()
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK == 0 {
		t.Errorf("after Fd the socket is in blocking mode (flags %#x, %v)", flags, err)
	}
}
