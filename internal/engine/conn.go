package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/connset"
	"github.com/gowsgi/gowsgi/internal/core"
	"github.com/gowsgi/gowsgi/internal/h1"
	"github.com/gowsgi/gowsgi/internal/proxyproto"
)

// conn is one client connection of Server. It has no goroutine: whoever
// owns it (see state) reads what the client sent into its buffer, parses
// request heads in place and builds their environ, hands each complete
// request to the pool, and, on the Python thread that ran it, is the sink
// of its response and takes the connection's next step.
type conn struct {
	srv *Server
	sk  sock

	// state says who owns the connection: the Poller (connIdle: it waits
	// for its client, and an event makes the harvester its owner), or
	// whoever works on it (connBusy). connBusyPending: an event came while
	// it was busy, so its owner looks again before it goes idle.
	state    atomic.Int32
	deadline atomic.Int64 // monotonic time an idle connection expires (0: none)
	// While idle: headSince, the start of the head it waits to complete
	// (0: kept alive between requests). Set as it goes idle; read by
	// another connection's opener looking for a slow one to close
	// (Server.makeRoom).
	idleHeadSince atomic.Int64

	rbuf      []byte             // read buffer; unread bytes are rbuf[r:w]; nil while idle with none
	base      *[readBufSize]byte // the pooled buffer rbuf is, until it grows
	grown     int64              // bytes of the App's memory budget rbuf holds
	r, w      int
	scan      int           // where the search for the end of the head in rbuf[r:w] resumes
	need      int           // bytes of head and body to have before the request starts (0: a head)
	headSince int64         // monotonic time the head in progress began arriving (0: none yet)
	bw        *bufio.Writer // nil while idle with nothing buffered
	aside     *os.File      // while a goroutine of its own reads a chunked body
	rpace     core.Pace     // waiting for the body
	wpace     core.Pace     // waiting for the client to take the response

	hreq h1.Request
	peer core.Peer

	// The exchange in progress.
	req      *core.Request
	minor    int  // HTTP/1.minor of the request
	chunked  bool // the response body is chunked
	closing  bool // close after this response
	length   bodyReader
	chunk    h1.ChunkedReader
	cont     continueReader
	bodyDone func() bool // whether the request body was read to its end

	proxyWait bool        // a PROXY header may still come first
	lowWater  bool        // TCP_NOTSENT_LOWAT is set
	fresh     atomic.Bool // no request yet: Shutdown gives it connset.FreshGrace
	graced    bool        // Shutdown gave it that window already
}

const (
	connIdle int32 = iota
	connBusy
	connBusyPending
)

const (
	readBufSize  = 4096
	writeBufSize = 16 << 10
	// drainMax is how much unread request body is read and discarded to
	// keep a connection; a larger rest closes it.
	drainMax = 256 << 10
)

// A PROXY header fits the first read buffer.
var _ [readBufSize - proxyproto.MaxLength]struct{}

// The buffers of connections that wait with nothing buffered go back to
// these pools: an idle connection then costs its socket and this struct.
var (
	readBufs  = sync.Pool{New: func() any { return new([readBufSize]byte) }}
	writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

func newConn(s *Server, fd int, remote unix.Sockaddr) *conn {
	c := &conn{srv: s, sk: sock{fd: fd}}
	c.state.Store(connBusy) // its opener's
	c.rpace.Timeout, c.wpace.Timeout = s.cfg.BodyTimeout, s.cfg.SendTimeout
	p := &c.peer
	p.RemoteIP, p.RemotePort = core.SplitRemote(sockaddrString(remote))
	if _, unixSocket := remote.(*unix.SockaddrUnix); unixSocket || remote == nil {
		p.RemoteIP, p.RemotePort = "", ""
		if local, err := unix.Getsockname(fd); err == nil {
			if a, ok := local.(*unix.SockaddrUnix); ok {
				p.LocalName = a.Name
			}
		}
	} else {
		c.sk.setInt(unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if local, err := unix.Getsockname(fd); err == nil {
			p.LocalName, p.LocalPort = core.SplitHostPort(sockaddrString(local))
		}
	}
	c.length.c = c
	c.cont.c = c
	c.fresh.Store(true)
	c.headSince = core.Monotonic()
	c.proxyWait = s.cfg.ProxyProtocol != proxyproto.Off
	return c
}

// sockWriter is the buffered writer's way to the socket.
type sockWriter struct{ c *conn }

func (w sockWriter) Write(p []byte) (int, error) { return w.c.sk.write(p, &w.c.wpace) }

// buffers gives the connection its buffers back, if it rested.
func (c *conn) buffers() {
	if c.rbuf == nil {
		c.base = readBufs.Get().(*[readBufSize]byte)
		c.rbuf = c.base[:]
	}
	if c.bw == nil {
		c.bw = writeBufs.Get().(*bufio.Writer)
		c.bw.Reset(sockWriter{c})
	}
}

// rest gives back the buffers that hold nothing, before the connection
// waits: 5,000 idle connections then cost no 100 MB of buffers.
func (c *conn) rest() {
	if c.bw != nil && c.bw.Buffered() == 0 {
		c.bw.Reset(nil)
		writeBufs.Put(c.bw)
		c.bw = nil
	}
	if c.rbuf != nil && c.r == c.w {
		c.dropReadBuf()
	}
}

// dropReadBuf lets go of the read buffer, whatever it holds.
func (c *conn) dropReadBuf() {
	if c.base != nil {
		readBufs.Put(c.base)
	}
	if c.grown != 0 {
		c.srv.app.Memory().Give(c.grown)
	}
	c.rbuf, c.base, c.grown = nil, nil, 0
	c.r, c.w, c.scan = 0, 0, 0
}

// own makes the caller the owner of an idle connection; false if it is busy.
func (c *conn) own() bool { return c.state.CompareAndSwap(connIdle, connBusy) }

// Ready is the Poller's news that the client sent something or left.
func (c *conn) Ready() {
	for {
		switch c.state.Load() {
		case connIdle:
			if c.own() {
				c.serveNext()
				return
			}
		case connBusy:
			if c.state.CompareAndSwap(connBusy, connBusyPending) {
				return
			}
		default:
			return
		}
	}
}

// toIdle gives the connection back to the Poller. It reports false if an
// event came meanwhile: the caller, still its owner, looks again.
func (c *conn) toIdle() bool {
	for {
		switch c.state.Load() {
		case connBusy:
			if c.state.CompareAndSwap(connBusy, connIdle) {
				return true
			}
		case connBusyPending:
			if c.state.CompareAndSwap(connBusyPending, connBusy) {
				return false
			}
		}
	}
}

// serveNext advances the connection and queues the request it completes.
func (c *conn) serveNext() {
	defer c.recoverPanic()
	if r := c.advance(); r != nil {
		r.Submit()
	}
}

// recoverPanic turns a panic while reading a request (or sending what the
// server answers itself) into a log line with the stack, a 500 if the
// request had begun and nothing was sent, and the connection closed: one
// broken exchange must not take the process down, nor the Go program an
// App is mounted in. The caller owns the connection.
func (c *conn) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	c.srv.app.Log().Error("panic serving a connection", "remote", c.peer.RemoteIP, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	c.Broken()
}

// Broken ends a connection whose exchange panicked.
func (c *conn) Broken() {
	defer func() {
		if recover() != nil {
			c.sk.close() // the connection cannot even be closed cleanly
		}
	}()
	if r := c.req; r != nil {
		c.req = nil
		r.Abandon()
		r.End()
	}
	c.closing = true
	c.close()
}

// CloseIfIdle is Shutdown's word to a connection that waits for a request.
// None is closed at once: a client that reuses a kept connection does not
// always retry a request the server's close cut off (Python's http.client
// and requests, curl in a loop, load balancers' health checks do not). A
// kept-alive connection stays until its keep-alive timeout, as it would
// without the shutdown, and a request on it meanwhile is answered with
// Connection: close; a fresh one gets connset.FreshGrace at most to send
// its first request. The Poller's deadline sweep closes them. Shutdown
// calls it under its lock, so graced needs no other.
func (c *conn) CloseIfIdle() {
	if c.graced || !c.fresh.Load() || c.state.Load() != connIdle {
		return
	}
	c.graced = true
	if grace := core.Monotonic() + int64(connset.FreshGrace); c.deadline.Load() > grace {
		c.deadline.Store(grace)
	}
}

// CloseNow ends the connection whatever it does: Shutdown's deadline
// passed. Its owner's operations fail, and it closes it.
func (c *conn) CloseNow() {
	c.sk.abort()
	go func() {
		if c.own() {
			c.close()
		}
	}()
}

// Sweep closes the connection if it is idle past its deadline.
func (c *conn) Sweep(now int64) {
	if d := c.deadline.Load(); d != 0 && now > d && c.own() {
		c.close()
	}
}

// close ends the connection; the caller owns it.
func (c *conn) close() {
	c.flush()                              // whatever response is still buffered
	c.srv.poller.Forget(c.sk.fd, c, false) // before the number is free
	c.sk.close()
	c.srv.set.Forget(c)
	if b := c.srv.bal; b != nil {
		b.seat.Closed()
	}
	c.rest()
	c.dropReadBuf()
}

// advance reads and parses what the client sent and returns its next
// request once that is complete, the connection busy for it. Otherwise it
// answers what it refuses, closes the connection when it ends, or leaves it
// idle in the Poller, waiting for more. The caller owns the connection.
func (c *conn) advance() *core.Request {
	lim := c.srv.cfg.Limits
	for {
		c.buffers()
		if c.proxyWait && c.w > c.r {
			if !c.takeProxyHeader() {
				return nil
			}
			if !c.proxyWait {
				continue
			}
			// The start of a header: read more (the head's timeout runs).
		} else if pending := c.w - c.r; pending > 0 && c.need == 0 {
			if c.headSince == 0 {
				c.headSince = core.CoarseNow()
			}
			end, next := h1.HeadEnd(c.rbuf[c.r:c.w], c.scan)
			if end >= 0 {
				r, goOn := c.begin(end)
				if r != nil || !goOn {
					return r
				}
				continue
			}
			c.scan = next
			if (lim.RequestLine > 0 && pending > lim.RequestLine+2) || pending >= lim.HeadLimit() {
				// Too long already? Parse knows which limit it breaks.
				err := error(&h1.Error{Status: 431, Reason: "request head too large"})
				if _, perr := h1.Parse(c.rbuf[c.r:c.w], &c.hreq, lim); perr != h1.ErrIncomplete {
					err = perr
				} else if pending < lim.HeadLimit() {
					err = nil
				}
				if err != nil {
					c.refuse(err)
					return nil
				}
			}
		} else if c.need > 0 && c.w-c.r >= c.need {
			end := c.need - int(c.hreq.ContentLength)
			r, goOn := c.begin(end)
			if r != nil || !goOn {
				return r
			}
			continue
		}
		if c.w == len(c.rbuf) && !c.makeRoom(lim) {
			// Within the limits, but the worker has no memory left for
			// long heads: busy, for now.
			c.refuse(&h1.Error{Status: 503, Reason: "the server has no room for a request head this long now"})
			return nil
		}
		n, err := c.sk.tryRead(c.rbuf[c.w:])
		if n > 0 {
			c.w += n
			continue
		}
		if err == errWouldBlock {
			// Responses wait in the buffer while pipelined requests are
			// read, and go out in one write before the connection waits.
			if c.flush() != nil {
				c.close()
				return nil
			}
			c.setDeadline()
			c.rest()
			if c.toIdle() {
				return nil
			}
			continue
		}
		// The client closed the connection, or it failed.
		c.close()
		return nil
	}
}

// takeProxyHeader reads the PROXY header the connection's first bytes
// may be, and makes its client the connection's peer; proxyWait stays set
// while they are the start of one (a header fits the first read buffer).
// A malformed header, or one from a peer not allowed to send it, is
// refused with 400 (403 for the peer) and the connection closed (false),
// as gunicorn does.
func (c *conn) takeProxyHeader() bool {
	h, n, err := proxyproto.Parse(c.rbuf[c.r:c.w], c.srv.cfg.ProxyProtocol)
	switch {
	case err == proxyproto.ErrIncomplete:
		return true
	case err == proxyproto.ErrNone:
	case err != nil:
		c.refuse(&h1.Error{Status: 400, Reason: err.Error()})
		return false
	case !c.srv.cfg.ProxyAllow.Allows(c.peer.RemoteIP):
		c.refuse(&h1.Error{Status: 403, Reason: "a PROXY protocol header from " + c.peer.RemoteIP + ", which is not allowed to send one"})
		return false
	default:
		c.peer.TakeProxyHeader(&h)
		c.r += n
	}
	c.proxyWait = false
	return true
}

// makeRoom makes room at the end of the read buffer: the unread bytes move
// to its start, or it grows, as far as a head may take and the App's
// memory budget allows; false if it has no room for it.
func (c *conn) makeRoom(lim h1.Limits) bool {
	if c.r > 0 {
		c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
		c.scan = min(c.scan, c.w)
		c.r = 0
		return true
	}
	return c.grow(min(2*len(c.rbuf), lim.HeadLimit()+readBufSize))
}

// grow makes the read buffer size bytes long, taking what it adds from
// the App's memory budget; false if the budget has no room for it.
func (c *conn) grow(size int) bool {
	more := int64(size-readBufSize) - c.grown
	if more > 0 && !c.srv.app.Memory().Take(more) {
		return false
	}
	grown := make([]byte, size)
	c.w = copy(grown, c.rbuf[c.r:c.w])
	c.scan = min(c.scan, c.w)
	c.r = 0
	if c.base != nil {
		readBufs.Put(c.base)
		c.base = nil
	}
	c.rbuf, c.grown = grown, c.grown+more
	return true
}

// room makes rbuf[r:] at least n bytes long, for a body read ahead; false
// if the App's memory budget has no room for it.
func (c *conn) room(n int) bool {
	switch {
	case c.r+n <= len(c.rbuf):
		return true
	case n <= len(c.rbuf):
		c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
		c.scan = min(c.scan, c.w)
		c.r = 0
		return true
	}
	return c.grow(n)
}

// setDeadline sets when the idle connection expires: the keep-alive
// timeout between requests, the head timeout from the first byte of a head
// (and from the start of a connection).
func (c *conn) setDeadline() {
	c.idleHeadSince.Store(c.headSince)
	switch {
	case c.headSince != 0:
		c.deadline.Store(c.headSince + int64(c.srv.cfg.HeaderTimeout))
	default:
		c.deadline.Store(core.CoarseNow() + int64(c.srv.cfg.KeepAlive))
	}
}

// refuse answers a request the server refuses to parse and closes.
func (c *conn) refuse(err error) {
	if he, ok := err.(*h1.Error); ok {
		c.reject(he)
	}
	c.close()
}

// reject answers a request the server refuses to run.
func (c *conn) reject(e *h1.Error) {
	if log := c.srv.app.Log(); log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("refused request", "remote", c.peer.RemoteIP, "status", e.Status, "reason", e.Reason)
	}
	status := strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	body := status + ": " + e.Reason + "\n"
	c.bw.WriteString("HTTP/1.1 " + status + "\r\n")
	c.bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	c.bw.WriteString("Connection: close\r\nDate: ")
	c.bw.Write(core.HTTPDate())
	c.bw.WriteString("\r\n\r\n" + body)
	c.flush()
}

// begin starts the exchange of the complete head of length n at rbuf[r:].
// It returns the request to run; or nil and whether the connection goes
// on: false when it closed or a goroutine reads the body aside, true when
// more bytes are needed first or the request was answered here (a 4xx).
func (c *conn) begin(n int) (*core.Request, bool) {
	hreq := &c.hreq
	if _, err := h1.Parse(c.rbuf[c.r:c.r+n], hreq, c.srv.cfg.Limits); err != nil {
		c.refuse(err)
		return nil, false
	}
	// A small body is read before the application runs, from the buffer:
	// a slow client then holds no Python thread.
	if cl := hreq.ContentLength; cl > 0 && cl <= int64(c.srv.app.BodyBufferSize()) && !hreq.ExpectContinue &&
		c.w-c.r < n+int(cl) && c.room(n+int(cl)) {
		c.need = n + int(cl)
		return nil, true
	}
	c.need = 0
	c.scan = 0
	c.headSince = 0
	r := c.srv.app.Begin(c, c)
	c.req = r
	c.fresh.Store(false)
	c.deadline.Store(0)
	c.minor = hreq.Minor
	c.closing = hreq.Close || c.srv.set.Closing()
	c.chunked = false
	c.rpace.Reset()
	c.wpace.Reset()

	status := r.EnvironFromH1(hreq, &c.peer)
	c.r += n // the head stays intact until the environ is built
	if status == 400 {
		c.closing = true
	}
	body, length := c.requestBody()
	if status == 0 && hreq.Chunked {
		// Read to its end before the application runs, by a goroutine of
		// its own: it may trickle in.
		go c.spoolAside(r, body)
		return nil, false
	}
	if status == 0 {
		if status = r.SetBody(body, length, hreq.ExpectContinue); status != 0 {
			c.closing = true
		}
	}
	if status == 0 {
		if c.grown != 0 && c.r == c.w {
			c.dropReadBuf() // a body read ahead is in the request now
		}
		return r, false
	}
	if c.bodyDone != nil && !c.bodyDone() {
		c.closing = true // its body is not read here
	}
	r.Refuse(status)
	return nil, c.tail(r)
}

// spoolAside reads a chunked body to its end on a goroutine of its own,
// then queues the request.
func (c *conn) spoolAside(r *core.Request, body io.Reader) {
	f, err := c.sk.aside()
	status := 400
	if err == nil {
		c.aside = f
		if !c.cont.pending {
			c.rest() // the response buffer, while the body trickles in
		}
		status = r.SetBody(body, core.BodyUnknown, c.hreq.ExpectContinue)
		c.aside = nil
		f.Close()
	}
	c.buffers()
	if status == 0 {
		r.Submit()
		return
	}
	c.closing = true
	r.Refuse(status)
	if c.tail(r) {
		c.serveNext()
	}
}

// Finished completes an exchange once the pool is through with it.
func (c *conn) Finished(r *core.Request) *core.Request {
	if !c.tail(r) {
		return nil
	}
	// With nothing buffered, the connection waits in the Poller: reading
	// now would find nothing (the client sends its next request once it
	// has this response), and the Poller says when something comes.
	if c.r == c.w && c.flush() == nil {
		c.setDeadline()
		c.rest()
		if c.toIdle() {
			return nil
		}
	}
	return c.advance()
}

// tail is the end of an exchange (core's End: the 503 of a request the
// pool refused, the access log) and of what the application left of the
// request body. It reports whether the connection carries another
// request; if not, it is closed.
func (c *conn) tail(r *core.Request) bool {
	ending := r.End()
	c.req = nil
	c.setLowWater(false)
	// A response that went out without "Connection: close" before the
	// shutdown began keeps its connection: its client may send the next
	// request at once, and is answered with Connection: close.
	if ending != core.Open || c.closing || !c.drainBody() {
		c.close()
		return false
	}
	return true
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
		body, length = &c.chunk, core.BodyUnknown
		c.bodyDone = c.chunk.Done
	case hreq.ContentLength > 0:
		c.length.n = hreq.ContentLength
		body, length = &c.length, hreq.ContentLength
		c.bodyDone = c.length.done
	case hreq.ContentLength == 0:
		return nil, 0
	default:
		return nil, core.BodyAbsent
	}
	if hreq.ExpectContinue {
		c.cont.src, c.cont.pending = body, true
		return &c.cont, length
	}
	c.cont.pending = false
	return body, length
}

// bodyClosesConn says whether what is left of the request body as the
// response starts will close the connection after it (drainBody): a body
// its client still waits for "100 Continue" to send, or drainMax or more
// of one. The response then says "Connection: close", so the client does
// not send its next request on a connection about to close.
func (c *conn) bodyClosesConn() bool {
	if c.bodyDone == nil || c.bodyDone() {
		return false
	}
	return c.cont.pending || (!c.hreq.Chunked && c.length.n >= drainMax)
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

// Read and ReadByte serve the body readers from the connection's buffer,
// waiting for the client when it is empty (on the Python thread reading
// wsgi.input, with the GIL released; or on the goroutine reading a
// chunked body aside).
func (c *conn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if len(p) >= len(c.rbuf) {
			// Large reads skip the buffer.
			return c.readSocket(p)
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
	c.buffers() // it may have let go of an empty one
	c.r, c.w = 0, 0
	n, err := c.readSocket(c.rbuf)
	c.w = n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (c *conn) readSocket(p []byte) (int, error) {
	if c.aside != nil {
		start := time.Now()
		c.aside.SetReadDeadline(c.rpace.Deadline(start))
		n, err := c.aside.Read(p)
		c.rpace.Spent(start)
		c.rpace.Add(n)
		return n, err
	}
	return c.sk.read(p, &c.rpace)
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
		r.c.buffers()
		r.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := r.c.flush(); err != nil {
			return 0, err
		}
	}
	return r.src.Read(p)
}

// The sink side: the response as HTTP/1.1.

func (c *conn) WriteHead(h *core.ResponseHead) error {
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(h.Line)
	w.WriteString("\r\n")
	for _, f := range h.Fields {
		w.Write(f[0])
		w.WriteString(": ")
		w.Write(f[1])
		w.WriteString("\r\n")
	}
	if !h.HasDate {
		w.WriteString("Date: ")
		w.Write(core.HTTPDate())
		w.WriteString("\r\n")
	}
	switch {
	case h.Length >= 0 && h.Declared < 0:
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), h.Length, 10))
		w.WriteString("\r\n")
	case h.Length < 0 && !h.NoBody:
		if c.minor == 1 {
			w.WriteString("Transfer-Encoding: chunked\r\n")
			c.chunked = true
		} else {
			c.closing = true // HTTP/1.0: the end of the connection ends the body
		}
	}
	if h.Status < 200 || h.Close || c.srv.set.Closing() || c.bodyClosesConn() {
		// A WSGI exchange cannot continue after a 1xx; a draining server
		// says it closes on every response it starts; and so does a
		// response whose request body will not be drained (drainBody).
		c.closing = true
	}
	switch {
	case c.closing:
		w.WriteString("Connection: close\r\n")
	case c.minor == 0:
		w.WriteString("Connection: keep-alive\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

func (c *conn) WriteBody(a, b []byte, flush bool) error {
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
		bufs := [][]byte{chunkHead, a, b}
		if c.chunked {
			bufs = append(bufs, crlf)
		}
		_, err := c.sk.writev(bufs, &c.wpace)
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
// so the transmit work happens in this process's own writes instead of in
// the client's acknowledgements (which on loopback run on the client's
// CPU), and the data waits in the application's memory, not the kernel's.
const (
	lowWaterFrom = 256 << 10
	lowWater     = 16 << 10
)

func (c *conn) setLowWater(on bool) {
	if c.lowWater == on || c.peer.LocalPort == "" {
		return
	}
	value := 0 // the system's default: no limit
	if on {
		value = lowWater
	}
	if c.sk.setInt(unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, value) == nil {
		c.lowWater = on
	}
}

func (c *conn) SendFile(fd int, off, n int64) (int64, error) {
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
	sent, err := c.sk.sendfile(fd, off, n, &c.wpace)
	if err == nil && c.chunked {
		c.bw.Write(crlf)
	}
	return sent, err
}

func (c *conn) End() error {
	if c.chunked {
		if _, err := c.bw.Write([]byte("0\r\n\r\n")); err != nil {
			return err
		}
		c.chunked = false
	}
	// The response goes out now, from the thread that made it: the client
	// can send its next request while the thread serves others. Responses
	// to pipelined requests already read wait, to go out in one write.
	if c.r == c.w {
		return c.flush()
	}
	return nil
}

// Abort sends what is buffered and shuts the connection down; its owner,
// busy with the request, finds it ended and closes it.
func (c *conn) Abort() {
	c.flush()
	c.sk.abort()
}

func (c *conn) flush() error {
	if c.bw == nil || c.bw.Buffered() == 0 {
		return nil
	}
	return c.bw.Flush()
}

var _ net.Error = errTimeout
