package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// refused runs gowsgi with args, which it must refuse before it binds
// anything: exit status 1 and one line naming the problem.
func refused(t *testing.T, opts testutil.Options, want string, args ...string) string {
	t.Helper()
	s := testutil.Launch(t, opts, args...)
	code := s.Wait(60 * time.Second)
	log := s.Log.String()
	if code != 1 {
		t.Errorf("%v: exit status %d, want 1:\n%s", args, code, log)
	}
	if !strings.Contains(log, want) {
		t.Errorf("%v: the error does not say %q:\n%s", args, want, log)
	}
	for _, bad := range []string{"Listening at", "goroutine ", "panic"} {
		if strings.Contains(log, bad) {
			t.Errorf("%v: %q in the output:\n%s", args, bad, log)
		}
	}
	return log
}

// A bind that needs a name looked up resolves it and binds every address
// the name has; a bad one is a one-line error, not a crash.
func TestBindHostName(t *testing.T) {
	port := freePort(t)
	s := testutil.Start(t, testutil.Options{NoBind: true}, "-b", fmt.Sprintf("localhost:%d", port), "--pythonpath", ".", "conformance:hello")
	addrs, _ := net.LookupHost("localhost")
	for _, a := range addrs {
		url := "http://" + net.JoinHostPort(a, fmt.Sprint(port))
		if !s.WaitLog("Listening at: "+url, 10*time.Second) {
			t.Errorf("localhost resolves to %v; %s not bound:\n%s", addrs, url, s.Log)
			continue
		}
		if _, body := cliGet(t, url+"/"); body != "Hello, world!" {
			t.Errorf("%s: %q", url, body)
		}
	}
	for bind, want := range map[string]string{
		"8000":                      `a port alone is written ":8000"`,
		"badaddr.invalid":           `cannot resolve "badaddr.invalid"`,
		"no such host:80":           "neither an IP address nor a host name",
		"127.0.0.1:http-alt-nope":   "invalid port",
		"unix:" + t.TempDir() + "/": "bind",
	} {
		refused(t, testutil.Options{NoBind: true}, want, "-b", bind, "--pythonpath", ".", "conformance:hello")
	}
}

// -b 0.0.0.0:PORT listens on IPv4 only, and the log says 0.0.0.0.
func TestBindIPv4Only(t *testing.T) {
	port := freePort(t)
	s := testutil.Start(t, testutil.Options{NoBind: true}, "-b", fmt.Sprintf("0.0.0.0:%d", port), "--pythonpath", ".", "conformance:hello")
	if !strings.Contains(s.Log.String(), fmt.Sprintf("Listening at: http://0.0.0.0:%d ", port)) {
		t.Errorf("the log does not say 0.0.0.0:\n%s", s.Log)
	}
	if _, body := cliGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "Hello, world!" {
		t.Errorf("over IPv4: %q", body)
	}
	out, err := exec.Command("ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	if lines := strings.TrimSpace(string(out)); strings.Contains(lines, "[::]") || strings.Contains(lines, "*:") ||
		!strings.Contains(lines, fmt.Sprintf("0.0.0.0:%d", port)) {
		t.Errorf("the listening sockets of port %d:\n%s", port, out)
	}
}

// --backlog is the listen(2) queue of the socket (ss shows it as Send-Q).
func TestBacklog(t *testing.T) {
	port := freePort(t)
	testutil.Start(t, testutil.Options{NoBind: true}, "-b", fmt.Sprintf("127.0.0.1:%d", port), "--backlog", "17",
		"--pythonpath", ".", "conformance:hello")
	out, err := exec.Command("ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 || fields[2] != "17" {
		t.Errorf("ss shows %q, want a Send-Q (backlog) of 17", out)
	}
}

// Unix sockets are created with --umask (0 by default, as gunicorn: any
// local user may connect, nginx included) and owned by --user.
func TestUnixSocketUmask(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		mode os.FileMode
	}{
		{nil, 0o777},
		{[]string{"--umask", "007"}, 0o770},
		{[]string{"-m", "0o077"}, 0o700},
	} {
		path := filepath.Join(dir, fmt.Sprintf("s%d.sock", len(c.args)))
		args := append([]string{"-b", "unix:" + path}, c.args...)
		s := testutil.Launch(t, testutil.Options{NoBind: true}, append(args, "--pythonpath", ".", "conformance:hello")...)
		if !s.WaitLog("Listening at: unix:"+path, 30*time.Second) {
			t.Fatalf("not listening:\n%s", s.Log)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != c.mode {
			t.Errorf("%v: mode %v (%v), want %v", c.args, fi.Mode().Perm(), err, c.mode)
		}
		s.Stop()
	}
	bad := testutil.Launch(t, testutil.Options{}, "--umask", "999", "--pythonpath", ".", "conformance:hello")
	if code := bad.Wait(30 * time.Second); code != 2 || !strings.Contains(bad.Log.String(), "--umask") {
		t.Errorf("--umask 999: exit status %d, want 2 (a command line that does not parse):\n%s", code, bad.Log)
	}
}

// uwsgi sockets take connections from --uwsgi-allow-from only (gunicorn's
// default: this host); the others are closed at once.
func TestUWSGIAllowFrom(t *testing.T) {
	port := freePort(t)
	s := testutil.Start(t, testutil.Options{}, "-b", fmt.Sprintf("uwsgi://127.0.0.1:%d", port),
		"--uwsgi-allow-from", "10.0.0.0/8", "--pythonpath", ".", "conformance:hello")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("a connection from 127.0.0.1 was kept: %d %v", n, err)
	}
	if !s.WaitLog("not in --uwsgi-allow-from", 10*time.Second) {
		t.Errorf("no log line:\n%s", s.Log)
	}
}

// freePort finds a port of 127.0.0.1 free now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
