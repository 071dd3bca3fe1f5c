package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/h1"
)

// conn is one client connection of Server: it reads request heads into its
// buffer, parses them in place, runs each exchange through the App, and is
// itself the sink of the responses.
type conn struct {
	srv *Server
	nc  net.Conn

	rbuf []byte // read buffer; unread bytes are rbuf[r:w]
	r, w int
	bw   *bufio.Writer

	hreq    h1.Request
	path    []byte // the decoded path, reused
	scratch []byte // joined header values, reused

	// The exchange in progress.
	req      *request
	minor    int  // HTTP/1.minor of the request
	chunked  bool // the response body is chunked
	closing  bool // close after this response
	length   bodyReader
	chunk    h1.ChunkedReader
	cont     continueReader
	bodyDone func() bool // whether the request body was read to its end

	remoteIP, remotePort string
	localName, localPort string
	lowWater             bool        // TCP_NOTSENT_LOWAT is set
	idle                 atomic.Bool // waiting for a request: Shutdown may close it
	fresh                atomic.Bool // no request yet: Shutdown gives it freshGrace
	graced               bool        // Shutdown gave it that window already
}

const (
	readBufSize  = 4096
	writeBufSize = 16 << 10
	// drainMax is how much unread request body is read and discarded to
	// keep a connection; a larger rest closes it.
	drainMax = 256 << 10
)

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, rbuf: make([]byte, readBufSize)}
	c.bw = bufio.NewWriterSize(nc, writeBufSize)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c.remoteIP, c.remotePort = splitHostPort(nc.RemoteAddr().String())
	if len(c.remoteIP) > 1 && c.remoteIP[0] == '[' {
		c.remoteIP = c.remoteIP[1 : len(c.remoteIP)-1]
	}
	if _, ok := nc.RemoteAddr().(*net.UnixAddr); ok {
		c.remoteIP, c.remotePort = "", ""
	}
	c.localName, c.localPort = splitHostPort(nc.LocalAddr().String())
	c.length.c = c
	c.cont.c = c
	c.fresh.Store(true)
	return c
}

// freshGrace is how long Shutdown lets a connection that has sent nothing
// yet send its first request: its client, having just connected, is
// sending it, and would not retry on a connection it never used.
const freshGrace = time.Second

// closeIfIdle closes the connection if it waits for a request with
// nothing buffered (idle is only set then). Kept-alive connections close at
// once (a client retries a request on a connection it reused); a fresh one
// gets freshGrace to send its request, which is then answered and closes
// it.
func (c *conn) closeIfIdle() {
	switch {
	case !c.idle.Load():
	case !c.fresh.Load():
		c.nc.Close()
	case !c.graced:
		c.graced = true
		c.nc.SetReadDeadline(time.Now().Add(freshGrace))
	}
}

func (c *conn) closeNow() { c.nc.Close() }

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.flush() // whatever response is still buffered
	c.nc.SetReadDeadline(time.Now().Add(c.srv.HeaderTimeout))
	first := true
	for {
		n, err := c.readHead(first)
		first = false
		if err != nil {
			var he *h1.Error
			if errors.As(err, &he) {
				c.reject(he)
			}
			return
		}
		if _, err := h1.Parse(c.rbuf[c.r:c.r+n], &c.hreq, c.srv.Limits); err != nil {
			var he *h1.Error
			if errors.As(err, &he) {
				c.reject(he)
			}
			return
		}
		if !c.exchange(n) {
			return
		}
	}
}

// readHead reads until a whole request head is buffered at rbuf[r:] and
// returns its length.
func (c *conn) readHead(first bool) (int, error) {
	lim := c.srv.Limits
	scan := 0
	waiting := c.r == c.w // no byte of the request yet
	if waiting {
		c.r, c.w = 0, 0
		if !first {
			// A kept-alive connection waits for its next request.
			if err := c.flush(); err != nil {
				return 0, err
			}
			c.nc.SetReadDeadline(time.Now().Add(c.srv.KeepAlive))
		}
		// Idle from here: Shutdown either sees the flag and closes the
		// connection, or this sees Shutdown and returns. A fresh
		// connection is not turned away: its client has sent, or is
		// sending, its first request (see freshGrace).
		c.idle.Store(true)
		if !first && c.srv.set.closing.Load() {
			return 0, ErrServerClosed
		}
	}
	for {
		if c.w > c.r {
			if waiting {
				// The request started: it now has the header timeout.
				c.idle.Store(false)
				waiting = false
				if !first {
					c.nc.SetReadDeadline(time.Now().Add(c.srv.HeaderTimeout))
				}
			}
			end, next := h1.HeadEnd(c.rbuf[c.r:c.w], scan)
			if end >= 0 {
				return end, nil
			}
			scan = next
			if pending := c.w - c.r; (lim.RequestLine > 0 && pending > lim.RequestLine+2) || pending >= lim.HeadLimit() {
				// Too long already? Parse knows which limit it breaks.
				if _, err := h1.Parse(c.rbuf[c.r:c.w], &c.hreq, lim); err != h1.ErrIncomplete {
					return 0, err
				}
				if pending >= lim.HeadLimit() {
					return 0, &h1.Error{Status: 431, Reason: "request head too large"}
				}
			}
		}
		if c.w == len(c.rbuf) {
			if c.r > 0 {
				c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
				c.r = 0
			} else {
				grown := make([]byte, min(2*len(c.rbuf), lim.HeadLimit()+readBufSize))
				c.w = copy(grown, c.rbuf[c.r:c.w])
				c.rbuf = grown
			}
		}
		// Responses wait in the buffer while pipelined requests are read,
		// and go out in one write before the connection blocks.
		if err := c.flush(); err != nil {
			return 0, err
		}
		if waiting && !first {
			// The client sends its next request once it has this
			// response: reading at once would find nothing, costing a
			// read(2) and a wait on the poller. Other connections' turns
			// come first; by then the request has usually arrived. Alone,
			// this returns at once.
			runtime.Gosched()
		}
		n, err := c.nc.Read(c.rbuf[c.w:])
		c.w += n
		if err != nil && n == 0 {
			return 0, err
		}
	}
}

// reject answers a request the server refuses to run and closes.
func (c *conn) reject(e *h1.Error) {
	if c.srv.App.log.Enabled(context.Background(), slog.LevelDebug) {
		c.srv.App.log.Debug("refused request", "remote", c.remoteIP, "status", e.Status, "reason", e.Reason)
	}
	status := strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	body := status + ": " + e.Reason + "\n"
	c.bw.WriteString("HTTP/1.1 " + status + "\r\n")
	c.bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	c.bw.WriteString("Connection: close\r\nDate: ")
	c.bw.Write(httpDate())
	c.bw.WriteString("\r\n\r\n" + body)
	c.flush()
}

// exchange runs one parsed request of head length n through the App and
// reports whether the connection can carry another.
func (c *conn) exchange(n int) bool {
	a := c.srv.App
	r := a.getRequest()
	defer a.putRequest(r)
	r.sink = c
	c.req = r
	c.fresh.Store(false)
	defer func() { c.req = nil }()
	r.info.started = time.Now()
	hreq := &c.hreq
	c.minor = hreq.Minor
	c.closing = hreq.Close || c.srv.set.closing.Load()
	c.chunked = false
	r.isHead = string(hreq.Method) == "HEAD"

	status := c.environ(r)
	c.r += n // the head stays intact until the environ is built
	if status == 400 {
		c.closing = true
	}
	body, length := c.requestBody()
	if status == 0 {
		var err error
		if status, err = r.setBody(body, length, hreq.ExpectContinue); status != 0 {
			a.log.Info("rejected request body", "request", r.describe(), "error", err)
			c.closing = true
		}
	}
	switch {
	case status != 0:
		r.respond(status, http.StatusText(status))
	default:
		if err := a.pool.run(r); err != nil {
			a.log.Warn("request not served", "request", r.describe(), "reason", err)
			r.respond(503, "Service Unavailable", [2]string{"Retry-After", "1"})
		} else {
			r.finish()
		}
	}
	a.access.log(r)
	c.setLowWater(false)
	if r.clientGone || r.closeConn || c.closing {
		return false
	}
	return c.drainBody()
}

// requestBody sets up the reader of the request body.
func (c *conn) requestBody() (io.Reader, int64) {
	hreq := &c.hreq
	var body io.Reader
	var length int64
	c.bodyDone = nil
	switch {
	case hreq.Chunked:
		c.chunk.Reset(c)
		body, length = &c.chunk, unknownBody
		c.bodyDone = c.chunk.Done
	case hreq.ContentLength > 0:
		c.length.n = hreq.ContentLength
		body, length = &c.length, hreq.ContentLength
		c.bodyDone = c.length.done
	case hreq.ContentLength == 0:
		return nil, 0
	default:
		return nil, noBody
	}
	if hreq.ExpectContinue {
		c.cont.src, c.cont.pending = body, true
		return &c.cont, length
	}
	c.cont.pending = false
	return body, length
}

// drainBody reads what the application left of the request body, so the
// connection can carry the next request; a large rest closes it instead.
func (c *conn) drainBody() bool {
	if c.bodyDone == nil || c.bodyDone() {
		return true
	}
	if c.cont.pending {
		// The client still waits for "100 Continue": it never sent the body.
		return false
	}
	var src io.Reader = &c.length
	if c.hreq.Chunked {
		src = &c.chunk
	}
	n, err := io.Copy(io.Discard, io.LimitReader(src, drainMax))
	return err == nil && n < drainMax && c.bodyDone()
}

// environ fills the environ of the parsed request. It returns 0, or the
// status to answer instead of running the application.
func (c *conn) environ(r *request) int {
	hreq := &c.hreq
	setVar(r, C.GW_K_REQUEST_METHOD, hreq.Method)
	var ok bool
	if c.path, ok = h1.AppendUnescaped(c.path[:0], hreq.Path); !ok {
		return 400
	}
	if !setPath(r, c.path) {
		return 404
	}
	setVar(r, C.GW_K_QUERY_STRING, hreq.Query)
	setVar(r, C.GW_K_REQUEST_URI, hreq.Target)
	setVar(r, C.GW_K_RAW_URI, hreq.Target)
	setVar(r, C.GW_K_SERVER_PROTOCOL, hreq.Proto)
	setVar(r, C.GW_K_REMOTE_ADDR, c.remoteIP)
	setVar(r, C.GW_K_REMOTE_PORT, c.remotePort)
	https, ok := c.srv.App.proxy.engineScheme(hreq.Fields, c.remoteIP, false)
	if !ok {
		return 400 // trusted scheme headers that disagree (proxy.go)
	}
	setScheme(r, https)
	setServer(r, hreq.Host, c.localName, c.localPort, https)
	if hreq.Host != nil {
		setVar(r, C.GW_K_HTTP_HOST, hreq.Host)
	}
	fields := hreq.Fields
	for i := range fields {
		name := fields[i].Name
		// Host is set above; the body's framing is the server's business:
		// the application sees the decoded body and its CONTENT_LENGTH.
		if h1.EqualFold(name, "host") || h1.EqualFold(name, "content-length") ||
			h1.EqualFold(name, "transfer-encoding") || repeatedBefore(fields, i) {
			continue
		}
		value := c.joinedValue(fields, i)
		if h1.EqualFold(name, "content-type") {
			setVar(r, C.GW_K_CONTENT_TYPE, value)
		} else {
			setHeader(r, name, value)
		}
	}
	return 0
}

// repeatedBefore reports whether field i's name appeared earlier.
func repeatedBefore(fields []h1.Field, i int) bool {
	for j := 0; j < i; j++ {
		if len(fields[j].Name) == len(fields[i].Name) && h1.EqualFoldBytes(fields[j].Name, fields[i].Name) {
			return true
		}
	}
	return false
}

// joinedValue is field i's value, joined with the values of later fields
// of the same name: ", " between them, "; " for Cookie (RFC 9110 5.3,
// RFC 6265 5.4).
func (c *conn) joinedValue(fields []h1.Field, i int) []byte {
	joined := false
	for j := i + 1; j < len(fields); j++ {
		if !h1.EqualFoldBytes(fields[j].Name, fields[i].Name) {
			continue
		}
		if !joined {
			c.scratch = append(c.scratch[:0], fields[i].Value...)
			joined = true
		}
		if h1.EqualFold(fields[i].Name, "cookie") {
			c.scratch = append(c.scratch, "; "...)
		} else {
			c.scratch = append(c.scratch, ", "...)
		}
		c.scratch = append(c.scratch, fields[j].Value...)
	}
	if joined {
		return c.scratch
	}
	return fields[i].Value
}

// Read and ReadByte serve the body readers from the connection's buffer.
func (c *conn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if len(p) >= len(c.rbuf) {
			// Large reads skip the buffer.
			c.nc.SetReadDeadline(time.Now().Add(c.srv.IOTimeout))
			return c.nc.Read(p)
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rbuf[c.r:c.w])
	c.r += n
	return n, nil
}

func (c *conn) ReadByte() (byte, error) {
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	b := c.rbuf[c.r]
	c.r++
	return b, nil
}

func (c *conn) fill() error {
	c.r, c.w = 0, 0
	c.nc.SetReadDeadline(time.Now().Add(c.srv.IOTimeout))
	n, err := c.nc.Read(c.rbuf)
	c.w = n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// bodyReader reads a body of known length from the connection.
type bodyReader struct {
	c *conn
	n int64 // bytes left
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.c.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *bodyReader) done() bool { return b.n <= 0 }

// continueReader sends "100 Continue" before the first read of a body whose
// client waits for it (RFC 9110 10.1.1), so an application that answers
// without reading spares the client the upload.
type continueReader struct {
	c       *conn
	src     io.Reader
	pending bool
}

func (r *continueReader) Read(p []byte) (int, error) {
	if r.pending {
		r.pending = false
		r.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := r.c.flush(); err != nil {
			return 0, err
		}
	}
	return r.src.Read(p)
}

// The sink side: the response as HTTP/1.1.

func (c *conn) writeHead(h *responseHead, length int64) error {
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(h.line)
	w.WriteString("\r\n")
	for _, f := range h.fields {
		w.Write(f[0])
		w.WriteString(": ")
		w.Write(f[1])
		w.WriteString("\r\n")
	}
	if !h.hasDate {
		w.WriteString("Date: ")
		w.Write(httpDate())
		w.WriteString("\r\n")
	}
	noBody := c.req.noBody
	switch {
	case length >= 0 && h.declared < 0:
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), length, 10))
		w.WriteString("\r\n")
	case length < 0 && !noBody:
		if c.minor == 1 {
			w.WriteString("Transfer-Encoding: chunked\r\n")
			c.chunked = true
		} else {
			c.closing = true // HTTP/1.0: the end of the connection ends the body
		}
	}
	if h.status < 200 {
		c.closing = true // a WSGI exchange cannot continue after a 1xx
	}
	switch {
	case c.closing || c.req.closeConn:
		w.WriteString("Connection: close\r\n")
	case c.minor == 0:
		w.WriteString("Connection: keep-alive\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

func (c *conn) writeBody(a, b []byte, flush bool) error {
	n := len(a) + len(b)
	if n == 0 {
		if flush {
			return c.flush()
		}
		return nil
	}
	var head [20]byte
	chunkHead := head[:0]
	if c.chunked {
		chunkHead = append(strconv.AppendInt(chunkHead, int64(n), 16), '\r', '\n')
	}
	if n > c.bw.Available() && n >= writeBufSize/2 {
		// Large: straight to the socket with writev, no copy.
		if err := c.flush(); err != nil {
			return err
		}
		if !flush && n >= lowWaterFrom {
			c.setLowWater(true)
		}
		bufs := net.Buffers{chunkHead, a, b}
		if c.chunked {
			bufs = append(bufs, crlf)
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.srv.IOTimeout))
		_, err := bufs.WriteTo(c.nc)
		return err
	}
	c.bw.Write(chunkHead)
	c.bw.Write(a)
	c.bw.Write(b)
	if c.chunked {
		c.bw.Write(crlf)
	}
	if flush {
		return c.flush()
	}
	return nil
}

var crlf = []byte("\r\n")

// Large bodies complete when the application returns go out with
// TCP_NOTSENT_LOWAT at lowWater: the kernel then holds little unsent data,
// so the transmit work happens in this process's own writes, where waiting
// costs a parked goroutine, instead of in the client's acknowledgements
// (which on loopback run on the client's CPU), and the data waits in the
// application's memory, not the kernel's.
const (
	lowWaterFrom = 256 << 10
	lowWater     = 16 << 10
)

func (c *conn) setLowWater(on bool) {
	if c.lowWater == on {
		return
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	value := 0 // the system's default: no limit
	if on {
		value = lowWater
	}
	raw.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, value) == nil {
			c.lowWater = on
		}
	})
}

func (c *conn) sendFile(fd int, off, n int64) (int64, error) {
	if c.chunked {
		c.bw.Write(strconv.AppendInt(c.bw.AvailableBuffer(), n, 16))
		c.bw.Write(crlf)
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	if n >= lowWaterFrom {
		c.setLowWater(true)
	}
	sent, err := copyFileRange(deadlineWriter{c}, fd, off, n)
	if err == nil && c.chunked {
		c.bw.Write(crlf)
	}
	return sent, err
}

// deadlineWriter renews the write deadline before handing a file to the
// socket (net.TCPConn.ReadFrom then uses sendfile).
type deadlineWriter struct{ c *conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.nc.SetWriteDeadline(time.Now().Add(d.c.srv.IOTimeout))
	return d.c.nc.Write(p)
}

func (d deadlineWriter) ReadFrom(src io.Reader) (int64, error) {
	d.c.nc.SetWriteDeadline(time.Now().Add(d.c.srv.IOTimeout))
	if rf, ok := d.c.nc.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(d.c.nc, src)
}

func (c *conn) end() error {
	if c.chunked {
		_, err := c.bw.Write([]byte("0\r\n\r\n"))
		c.chunked = false
		return err
	}
	return nil
}

// abort sends what is buffered and closes the connection; the goroutine
// serving it, blocked in a request, finds it closed when it returns.
func (c *conn) abort() {
	c.flush()
	c.nc.Close()
}

func (c *conn) flush() error {
	if c.bw.Buffered() == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.IOTimeout))
	return c.bw.Flush()
}

// httpDate is the current time for the Date header, formatted once a
// second.
func httpDate() []byte {
	now := time.Now().Unix()
	if d := dateCache.Load(); d != nil && d.sec == now {
		return d.text
	}
	d := &cachedDate{sec: now, text: time.Unix(now, 0).UTC().AppendFormat(nil, "Mon, 02 Jan 2006 15:04:05 GMT")}
	dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	sec  int64
	text []byte
}

var dateCache atomic.Pointer[cachedDate]
