// The soak's clients: each keeps one HTTP/1.1 connection alive and sends
// one kind of request after another on it, checking every answer and
// never retrying, so that every request the server drops is counted.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// A result is one request's outcome.
type result struct {
	kind       string
	id         string // X-Request-Id, also in a front server's log
	start, end time.Time
	port       int // the connection's local port (0: it could not connect)
	pid        int // the worker that answered on this connection before (0: none yet)
	answeredBy int // the worker that answered this request (0: no answer)
	err        error
}

// A client sends requests of one kind on one kept-alive connection,
// connecting again only when the server closed it (Connection: close) or a
// request failed.
type client struct {
	name  string // kind-number, the prefix of its request ids
	kind  string
	addr  string // host:port
	host  string // the Host header
	think time.Duration
	rng   *rand.Rand
	rec   *recorder

	conn net.Conn
	br   *bufio.Reader
	port int
	pid  int
	seq  int
}

// kinds are the request kinds a client can send: what it writes and what
// it expects back.
var kinds = map[string]func(c *client, id string) (exchange, error){
	"hello":    (*client).hello,
	"flask":    (*client).flask,
	"upload":   (*client).upload,
	"stream":   (*client).stream,
	"slowsend": (*client).slowSend,
	"slowread": (*client).slowRead,
}

// An exchange is a request ready to send: written by send, its answer's
// body checked by check.
type exchange struct {
	send  func(w io.Writer) error
	check func(body []byte) error
	// slow reads the answer a little at a time.
	slow bool
}

// randomBytes is the source of upload bodies.
var randomBytes = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

func (c *client) head(method, target, id string, extra string) string {
	return method + " " + target + " HTTP/1.1\r\nHost: " + c.host + "\r\nX-Request-Id: " + id + "\r\n" + extra + "\r\n"
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func expect(want []byte) func([]byte) error {
	return func(body []byte) error {
		if !bytes.Equal(body, want) {
			return fmt.Errorf("body of %d bytes differs from the %d expected", len(body), len(want))
		}
		return nil
	}
}

func (c *client) hello(id string) (exchange, error) {
	return exchange{send: writeString(c.head("GET", "/hello", id, "")), check: expect([]byte("Hello, world!"))}, nil
}

func (c *client) flask(id string) (exchange, error) {
	n := c.rng.IntN(1000000)
	return exchange{
		send: writeString(c.head("GET", "/flask/item/"+strconv.Itoa(n), id, "")),
		check: func(body []byte) error {
			var got struct{ N, Square int }
			if err := json.Unmarshal(body, &got); err != nil {
				return fmt.Errorf("JSON: %v", err)
			}
			if got.N != n || got.Square != n*n {
				return fmt.Errorf("answer %s for %d", body, n)
			}
			return nil
		},
	}, nil
}

// uploadBody is a random slice of randomBytes and what the application
// answers for it.
func (c *client) uploadBody(max int) ([]byte, []byte) {
	size := 1 + c.rng.IntN(max)
	off := c.rng.IntN(len(randomBytes) - size + 1)
	body := randomBytes[off : off+size]
	sum := sha256.Sum256(body)
	return body, []byte(strconv.Itoa(size) + " " + hex.EncodeToString(sum[:]))
}

// upload sends up to 512 KiB, half of the time chunked.
func (c *client) upload(id string) (exchange, error) {
	body, want := c.uploadBody(512 << 10)
	chunked := c.rng.IntN(2) == 0
	return exchange{
		send: func(w io.Writer) error {
			if !chunked {
				_, err := io.WriteString(w, c.head("POST", "/upload", id, "Content-Length: "+strconv.Itoa(len(body))+"\r\n")+string(body))
				return err
			}
			var b bytes.Buffer
			b.WriteString(c.head("POST", "/upload", id, "Transfer-Encoding: chunked\r\n"))
			for rest := body; len(rest) > 0; {
				n := min(len(rest), 1+c.rng.IntN(64<<10))
				fmt.Fprintf(&b, "%x\r\n", n)
				b.Write(rest[:n])
				b.WriteString("\r\n")
				rest = rest[n:]
			}
			b.WriteString("0\r\n\r\n")
			_, err := w.Write(b.Bytes())
			return err
		},
		check: expect(want),
	}, nil
}

// stream asks for a generator's chunks and checks each.
func (c *client) stream(id string) (exchange, error) {
	n, size := 1+c.rng.IntN(64), 8*(1+c.rng.IntN(2048))
	var want bytes.Buffer
	for i := 0; i < n; i++ {
		want.Write(bytes.Repeat([]byte(fmt.Sprintf("%08d", i)), size/8))
	}
	return exchange{
		send:  writeString(c.head("GET", fmt.Sprintf("/stream?n=%d&size=%d", n, size), id, "")),
		check: expect(want.Bytes()),
	}, nil
}

// slowSend trickles an upload: the head in three pieces, then a 64 KiB
// body in 8 KiB pieces, 50 ms apart (about half a second).
func (c *client) slowSend(id string) (exchange, error) {
	body, want := c.uploadBody(64 << 10)
	head := c.head("POST", "/upload", id, "Content-Length: "+strconv.Itoa(len(body))+"\r\n")
	return exchange{
		send: func(w io.Writer) error {
			third := len(head) / 3
			for _, piece := range []string{head[:third], head[third : 2*third], head[2*third:]} {
				if _, err := io.WriteString(w, piece); err != nil {
					return err
				}
				time.Sleep(50 * time.Millisecond)
			}
			for rest := body; len(rest) > 0; {
				n := min(len(rest), 8<<10)
				if _, err := w.Write(rest[:n]); err != nil {
					return err
				}
				rest = rest[n:]
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		},
		check: expect(want),
	}, nil
}

var bigBody = func() []byte {
	var b bytes.Buffer
	for i := 0; i < 32; i++ {
		b.Write(bytes.Repeat([]byte(fmt.Sprintf("%08d", i)), 8192/8))
	}
	return b.Bytes()
}()

// slowRead takes a 256 KiB answer 4 KiB at a time, 10 ms apart, on a
// connection with a small receive buffer: the server waits on it.
func (c *client) slowRead(id string) (exchange, error) {
	return exchange{send: writeString(c.head("GET", "/big", id, "")), check: expect(bigBody), slow: true}, nil
}

// slowReader returns at most 4 KiB a read, after a pause.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 4096)])
}

// run sends requests until stop is closed; the request in flight then
// finishes.
func (c *client) run(stop <-chan struct{}) {
	defer c.closeConn()
	for {
		select {
		case <-stop:
			return
		default:
		}
		c.rec.add(c.one())
		if c.think > 0 {
			time.Sleep(time.Duration(c.rng.Int64N(int64(c.think))))
		}
	}
}

func (c *client) closeConn() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br, c.port, c.pid = nil, nil, 0, 0
	}
}

// dial connects; a slow reader's socket gets a small receive buffer so
// that the server's writes wait for it rather than fill the kernel's.
func (c *client) dial() error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if c.kind == "slowread" {
		d.Control = func(network, address string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
			})
			return errors.Join(err, serr)
		}
	}
	conn, err := d.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn, c.pid = conn, 0
	c.port = conn.LocalAddr().(*net.TCPAddr).Port
	c.br = bufio.NewReaderSize(conn, 16<<10)
	if c.kind == "slowread" {
		c.br = bufio.NewReaderSize(slowReader{conn}, 4096)
	}
	return nil
}

// one sends one request and reads its answer; any error closes the
// connection (the next request connects again) and fails the request.
func (c *client) one() result {
	c.seq++
	r := result{kind: c.kind, id: c.name + "-" + strconv.Itoa(c.seq), start: time.Now()}
	finish := func(err error) result {
		r.end, r.err = time.Now(), err
		if err != nil {
			c.closeConn()
		}
		return r
	}
	ex, err := kinds[c.kind](c, r.id)
	if err != nil {
		return finish(err)
	}
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return finish(fmt.Errorf("connect: %w", err))
		}
	}
	r.port, r.pid = c.port, c.pid
	// A request that takes a minute is a hung one.
	c.conn.SetDeadline(time.Now().Add(time.Minute))
	if err := ex.send(c.conn); err != nil {
		return finish(fmt.Errorf("send: %w", err))
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return finish(fmt.Errorf("answer: %w", err))
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if pid, perr := strconv.Atoi(resp.Header.Get("X-Worker-Pid")); perr == nil {
		r.answeredBy, c.pid = pid, pid
	}
	switch {
	case err != nil:
		return finish(fmt.Errorf("body: %w", err))
	case resp.StatusCode != http.StatusOK:
		return finish(fmt.Errorf("status %s: %.200q", resp.Status, body))
	case r.answeredBy == 0:
		return finish(fmt.Errorf("no X-Worker-Pid in the answer"))
	}
	if err := ex.check(body); err != nil {
		return finish(err)
	}
	if resp.Close {
		c.closeConn()
	}
	return finish(nil)
}
