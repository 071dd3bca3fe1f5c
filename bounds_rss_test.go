package gowsgi

// What many connections cost a worker, measured: its RSS growth while
// 1,000 clients each stop in the middle of a large chunk or a large head
// is bounded, and 10,000 idle kept-alive connections are measured.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// rssServer starts the gowsgi command, built without the race detector
// (GOWSGI_RSS_PROGRAM: another build, for a figure before a change), with
// connections unbounded, and returns once its worker has answered: the
// figure before is of a worker that has loaded the application, and a
// worker that died while booting (and was replaced) is not the one
// measured.
func rssServer(t *testing.T, args ...string) *testutil.Server {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	program := os.Getenv("GOWSGI_RSS_PROGRAM")
	if program == "" {
		program = testutil.MeasuringBinary(t) // not the race detector's build
	}
	opts := testutil.Options{Program: program, Env: []string{"GOWSGI_MAX_CONNECTIONS=0"}}
	srv := testutil.Start(t, opts, append(args, "--threads", "4", "conformance:no_read")...)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("the server does not answer: %v\n%s", err, srv.Log)
	}
	resp.Body.Close()
	return srv
}

// rss is the worker's resident set size, and the worker's PID: a figure
// before and after must be of the same process.
func rss(t *testing.T, srv *testutil.Server, worker int) int64 {
	t.Helper()
	if now := srv.Worker(); now != worker {
		t.Fatalf("worker %d was replaced by %d while measured:\n%s", worker, now, srv.Log)
	}
	r, _ := srv.RSS()
	return r
}

// openStalled opens n connections that each send what and stop.
func openStalled(t *testing.T, addr string, n int, what string) []net.Conn {
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if what != "" {
			c.Write([]byte(what)) // the server may refuse it first (503)
		}
	}
	return conns
}

// settle waits for the worker to read what the clients sent: the figure
// is measured, not asserted against time.
func settle() { time.Sleep(2 * time.Second) }

func TestBoundRSSStalledClients(t *testing.T) {
	const bound = 64 << 20
	chunk := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" + strings.Repeat("c", 1<<20)
	var head strings.Builder
	head.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
	for i := 0; i < 98; i++ {
		fmt.Fprintf(&head, "X-Field-%02d: %s\r\n", i, strings.Repeat("h", 8000))
	}
	for _, c := range []struct{ name, what string }{{"1 MiB chunk", chunk}, {"783 KiB head", head.String()}} {
		t.Run(c.name, func(t *testing.T) {
			srv := rssServer(t)
			worker := srv.Worker()
			before := rss(t, srv, worker)
			openStalled(t, srv.Addr, 1000, c.what)
			settle()
			after := rss(t, srv, worker)
			t.Logf("1,000 connections that each send a %s and stop: RSS %d MiB -> %d MiB (+%d MiB)", c.name, before>>20, after>>20, (after-before)>>20)
			if after-before > bound {
				t.Errorf("RSS grew by %d MiB, more than %d MiB", (after-before)>>20, bound>>20)
			}
		})
	}
}

func TestBoundRSSIdleConnections(t *testing.T) {
	srv := rssServer(t, "--keep-alive", "300")
	worker := srv.Worker()
	before := rss(t, srv, worker)
	conns := openStalled(t, srv.Addr, 10000, "")
	// One request on each, so each is a kept-alive connection.
	buf := make([]byte, 4096)
	for _, c := range conns {
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if n, err := c.Read(buf); n == 0 || err != nil {
			t.Fatalf("no answer on a connection: %v", err)
		}
	}
	after := rss(t, srv, worker)
	t.Logf("10,000 idle kept-alive connections: RSS %d MiB -> %d MiB (+%d MiB, %d bytes each)", before>>20, after>>20, (after-before)>>20, (after-before)/10000)
}
