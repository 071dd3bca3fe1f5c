package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-shellwords"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// unit is what the tests take of a systemd service file.
type unit struct {
	dir    string   // WorkingDirectory
	exec   []string // ExecStart, split as systemd splits it
	reload []string // ExecReload
}

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	f, err := os.Open(filepath.Join(testutil.Testdata(), "units", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var u unit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		value = strings.ReplaceAll(value, "@TESTDATA@", testutil.Testdata())
		words, err := shellwords.Parse(value)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, key, err)
		}
		switch key {
		case "WorkingDirectory":
			u.dir = value
		case "ExecStart":
			u.exec = words
		case "ExecReload":
			u.reload = words
		}
	}
	if u.dir == "" || len(u.exec) == 0 || u.exec[0] != "/usr/bin/gunicorn" {
		t.Fatalf("%s: WorkingDirectory %q, ExecStart %q", name, u.dir, u.exec)
	}
	return u
}

// service is a unit's main process, run as systemd runs it: a socket of
// its own (socket activation), NOTIFY_SOCKET for Type=notify.
type service struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	out    *testutil.Buffer
	notify *net.UnixConn
	exited chan struct{}
}

func startService(t *testing.T, u unit, env []string) *service {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := ln.(*net.TCPListener).File()
	addr := ln.Addr().String()
	ln.Close()
	notifyPath := filepath.Join(t.TempDir(), "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { notify.Close() })
	// ExecStart unchanged but for the program; LISTEN_PID names the
	// process itself, as systemd sets it.
	args := append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, testutil.Binary(t)}, u.exec[1:]...)
	cmd := exec.Command("sh", args...)
	cmd.Dir = u.dir
	cmd.Env = append(append(testutil.CleanEnv(), "LISTEN_FDS=1", "NOTIFY_SOCKET="+notifyPath), env...)
	cmd.ExtraFiles = []*os.File{file}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := &service{t: t, cmd: cmd, url: "http://" + addr, out: &testutil.Buffer{}, notify: notify, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	file.Close()
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
	})
	s.waitNotify("READY=1")
	return s
}

// waitNotify waits for a message to NOTIFY_SOCKET holding what.
func (s *service) waitNotify(what string) {
	s.t.Helper()
	s.notify.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 512)
	for {
		n, err := s.notify.Read(buf)
		if err != nil {
			s.t.Fatalf("no %s from sd_notify: %v\n%s", what, err, s.out)
		}
		if strings.Contains(string(buf[:n]), what) {
			return
		}
	}
}

// get fetches path with headers (name, value, ...).
func (s *service) get(path string, header ...string) (int, string, http.Header) {
	s.t.Helper()
	req, _ := newRequest("GET", s.url+path, header...)
	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v\n%s", path, err, s.out)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// reload runs ExecReload, and waits until the service is ready again.
func (s *service) reload(u unit) {
	s.t.Helper()
	args := make([]string, len(u.reload))
	for i, a := range u.reload {
		args[i] = strings.ReplaceAll(a, "$MAINPID", strconv.Itoa(s.cmd.Process.Pid))
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		s.t.Fatalf("ExecReload %v: %v %s", args, err, out)
	}
	s.waitNotify("RELOADING=1")
	s.waitNotify("READY=1")
}

// stop is KillMode=mixed: SIGTERM to the main process, which must exit 0.
func (s *service) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("the service did not stop:\n%s", s.out)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("exit status %d:\n%s", code, s.out)
	}
}

// gunicorn's documented Django service runs unchanged: ExecStart
// "gunicorn testsite.wsgi" in the project's directory, systemd's socket,
// readiness, HUP to reload. Behind nginx on the same host, a request nginx
// says came over HTTPS is secure to Django: with SECURE_SSL_REDIRECT on it
// is served (gunicorn serves it), where without the header it is
// redirected to https.
func TestDjangoUnitFile(t *testing.T) {
	u := readUnit(t, "django.service")
	env := append(prepareDjangoDB(t, "/usr/bin/python3"), "GOWSGI_TEST_DJANGO_SSL_REDIRECT=1")
	s := startService(t, u, env)
	status, body, _ := s.get("/admin/login/", "X-Forwarded-Proto", "https")
	if status != 200 || !strings.Contains(body, "csrfmiddlewaretoken") {
		t.Errorf("the login page, from nginx over HTTPS: %d\n%.500s", status, body)
	}
	status, _, h := s.get("/admin/login/")
	if want := strings.Replace(s.url, "http://", "https://", 1) + "/admin/login/"; status != 301 || h.Get("Location") != want {
		t.Errorf("plain HTTP: %d %q, want 301 to %s", status, h.Get("Location"), want)
	}
	s.reload(u)
	if status, _, _ := s.get("/admin/login/", "X-Forwarded-Proto", "https"); status != 200 {
		t.Errorf("after the reload: %d", status)
	}
	s.stop()
}

// A Flask service with a real deployment's command line (workers, gthread,
// access log to stdout, --preload, forwarded_allow_ips '*', a
// gunicorn.conf.py with hooks and a process name) runs unchanged; Flask
// builds https URLs for what the front end says came over HTTPS.
func TestFlaskUnitFile(t *testing.T) {
	u := readUnit(t, "flask.service")
	s := startService(t, u, nil)
	if status, body, _ := s.get("/"); status != 200 || body != "flask index" {
		t.Errorf("GET /: %d %q", status, body)
	}
	host := strings.TrimPrefix(s.url, "http://")
	if _, body, _ := s.get("/external", "X-Forwarded-Proto", "https"); body != "https://"+host+"/" {
		t.Errorf("url_for(_external=True) behind TLS: %q", body)
	}
	if _, body, _ := s.get("/external"); body != "http://"+host+"/" {
		t.Errorf("url_for(_external=True) over plain HTTP: %q", body)
	}
	out := s.out.String()
	for _, want := range []string{
		"Reading configuration from gunicorn.conf.py",
		"Using 1 socket(s) from systemd socket activation",
		"Worker class gthread: each worker serves with 8 Python thread(s)",
		"Application app:app: 4 worker(s) of 8 Python thread(s)",
		"Flask application ready to serve",
		"Worker spawned (pid: ",
		`"GET /external HTTP/1.1" 200`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.cmd.Process.Pid))
	if !strings.HasPrefix(string(b), "gowsgi: master [flask-app]") {
		t.Errorf("proc_name: the master's command line is %q", b)
	}
	s.reload(u)
	if status, _, _ := s.get("/"); status != 200 {
		t.Errorf("after the reload: %d", status)
	}
	s.stop()
	if !strings.Contains(s.out.String(), "Worker ") || !strings.Contains(s.out.String(), " exiting") {
		t.Errorf("worker_exit did not log:\n%s", s.out)
	}
}
