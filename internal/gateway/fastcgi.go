package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
	"github.com/gowsgi/gowsgi/internal/fcgi"
)

// FastCGI serves an App as a FastCGI responder behind a front server
// (nginx's fastcgi_pass, Apache's mod_proxy_fcgi, lighttpd's mod_fastcgi).
// The front server's CGI variables become the environ (see
// EnvironFromCGI); the request body streams from the stdin records as the
// application reads it, and the response goes out as stdout records as
// the application produces it. One request at a time per connection
// (FCGI_MPXS_CONNS is 0), and connections are kept when the front server
// asks (FCGI_KEEP_CONN).
type FastCGI struct {
	App *core.App
	// IOTimeout bounds one read of a request or one write of a response
	// that makes no progress (default 60s). A kept connection waits for
	// its next request without limit: the front server manages it.
	IOTimeout time.Duration
	// IdleTimeout bounds a connection's wait for its next request, and
	// for its first (default 75s: longer than nginx's upstream
	// keepalive_timeout of 60s, so the front server, which knows when it
	// reuses a connection, closes it first).
	IdleTimeout time.Duration
	// MaxHeaders bounds the header variables (HTTP_*) of one request:
	// more are answered 431 (0: DefaultMaxHeaders; negative: no limit but
	// the 1 MiB of variables).
	MaxHeaders int

	once sync.Once
	gw   gateway
}

// DefaultFastCGIIdleTimeout is FastCGI.IdleTimeout's default.
const DefaultFastCGIIdleTimeout = 75 * time.Second

// maxParams bounds the CGI variables of one request.
const maxParams = 1 << 20

// Serve accepts FastCGI connections on ln until Shutdown.
func (s *FastCGI) Serve(ln net.Listener) error {
	s.once.Do(func() {
		if s.IOTimeout <= 0 {
			s.IOTimeout = 60 * time.Second
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = DefaultFastCGIIdleTimeout
		}
	})
	return s.gw.serve(ln, s.App.Log(), func(gc *gatewayConn) { newFCGIConn(s, gc).serve() })
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to finish, or for ctx to end.
func (s *FastCGI) Shutdown(ctx context.Context) error { return s.gw.shutdown(ctx) }

// fcgiConn is one connection from the front server. Its reader goroutine
// takes the records apart: management records are answered at once, the
// records of the request in progress go to it, a second request at the
// same time is refused. The serving goroutine runs one request after
// another.
type fcgiConn struct {
	srv   *FastCGI
	gc    *gatewayConn
	nc    net.Conn
	local core.Peer

	wmu sync.Mutex // both goroutines write records
	bw  *bufio.Writer

	next  chan *fcgiExchange // requests whose variables are complete
	quit  chan struct{}      // the serving goroutine is gone
	pairs [][2][]byte
}

func newFCGIConn(s *FastCGI, gc *gatewayConn) *fcgiConn {
	return &fcgiConn{
		srv: s, gc: gc, nc: gc.nc, local: localAddr(gc.nc),
		bw:   bufio.NewWriterSize(gc.nc, writeBufSize),
		next: make(chan *fcgiExchange),
		quit: make(chan struct{}),
	}
}

func (c *fcgiConn) serve() {
	defer close(c.quit)
	c.gc.idleFor(c.srv.IdleTimeout)
	go c.readLoop()
	for ex := range c.next {
		if !c.exchange(ex) || !c.srv.gw.finish(c.gc) {
			return
		}
	}
}

// fcgiExchange is one request on the connection: the reader feeds it, the
// serving goroutine runs it, and it is the sink of its response.
type fcgiExchange struct {
	c        *fcgiConn
	id       uint16
	keepConn bool
	params   []byte

	// Filled by the reader.
	stdin     chan []byte   // stdin records; closed at the end of stdin
	broken    chan struct{} // the connection failed: the error is in readErr
	readErr   error
	aborted   chan struct{} // FCGI_ABORT_REQUEST came
	abortOnce sync.Once
	done      chan struct{} // the serving goroutine is through with it

	// The body reader's state.
	pending []byte
	eof     bool

	head   []byte
	failed bool // a write failed: the connection is gone
}

func (ex *fcgiExchange) isDone() bool {
	select {
	case <-ex.done:
		return true
	default:
		return false
	}
}

func (ex *fcgiExchange) markAborted() {
	ex.abortOnce.Do(func() { close(ex.aborted) })
}

func (ex *fcgiExchange) wasAborted() bool {
	select {
	case <-ex.aborted:
		return true
	default:
		return false
	}
}

// readLoop reads the records of the connection until it ends.
func (c *fcgiConn) readLoop() {
	defer close(c.next)
	rd := fcgi.NewReader(c.nc)
	var cur *fcgiExchange // the request in progress
	paramsDone, stdinDone := false, false
	fail := func(err error) {
		if cur != nil && !cur.isDone() {
			cur.readErr = err
			close(cur.broken)
		}
	}
	for {
		rec, err := rd.Next()
		if err != nil {
			if errors.Is(err, fcgi.ErrProtocol) || errors.Is(err, io.ErrUnexpectedEOF) {
				c.srv.App.Log().Warn("closing a FastCGI connection", "remote", c.nc.RemoteAddr().String(), "error", err)
			}
			fail(err)
			return
		}
		active := cur != nil && !cur.isDone()
		if rec.ID == 0 {
			c.management(rec)
			continue
		}
		switch rec.Type {
		case fcgi.TypeBeginRequest:
			role, flags, err := fcgi.ParseBeginRequest(rec.Content)
			switch {
			case err != nil:
				c.srv.App.Log().Warn("closing a FastCGI connection", "remote", c.nc.RemoteAddr().String(), "error", err)
				fail(err)
				return
			case active:
				c.endRequest(rec.ID, fcgi.StatusCantMpxConn)
			case role != fcgi.RoleResponder:
				c.endRequest(rec.ID, fcgi.StatusUnknownRole)
			default:
				if !c.gc.start() {
					return
				}
				cur = &fcgiExchange{
					c: c, id: rec.ID, keepConn: flags&fcgi.FlagKeepConn != 0,
					stdin: make(chan []byte), broken: make(chan struct{}),
					aborted: make(chan struct{}), done: make(chan struct{}),
				}
				paramsDone, stdinDone = false, false
			}
		case fcgi.TypeAbortRequest:
			if active && rec.ID == cur.id {
				cur.markAborted()
			}
		case fcgi.TypeParams:
			if !active || rec.ID != cur.id || paramsDone {
				continue
			}
			if len(rec.Content) > 0 {
				if len(cur.params)+len(rec.Content) > maxParams {
					err := errors.New("CGI variables larger than 1 MiB")
					c.srv.App.Log().Warn("closing a FastCGI connection", "remote", c.nc.RemoteAddr().String(), "error", err)
					fail(err)
					return
				}
				cur.params = append(cur.params, rec.Content...)
				continue
			}
			paramsDone = true
			select {
			case c.next <- cur:
			case <-c.quit:
				return
			}
		case fcgi.TypeStdin:
			if !active || rec.ID != cur.id || !paramsDone || stdinDone {
				continue // the rest of a request that ended without reading it
			}
			if len(rec.Content) == 0 {
				stdinDone = true
				close(cur.stdin)
				continue
			}
			// Handed over one record at a time: the front server's
			// upload waits while the application does not read.
			select {
			case cur.stdin <- append([]byte(nil), rec.Content...):
			case <-cur.done:
			}
		}
	}
}

// management answers a record about the application rather than a
// request.
func (c *fcgiConn) management(rec fcgi.Record) {
	if rec.Type != fcgi.TypeGetValues {
		c.writeRecord(fcgi.TypeUnknownType, 0, []byte{rec.Type, 0, 0, 0, 0, 0, 0, 0})
		return
	}
	names, err := fcgi.ParseParams(rec.Content, nil)
	if err != nil {
		return
	}
	opts := c.srv.App.Options()
	var out []byte
	for _, n := range names {
		switch string(n[0]) {
		case "FCGI_MAX_CONNS", "FCGI_MAX_REQS":
			// Requests beyond the threads wait in the queue.
			out = fcgi.AppendParam(out, string(n[0]), strconv.Itoa(opts.Threads+opts.QueueSize))
		case "FCGI_MPXS_CONNS":
			out = fcgi.AppendParam(out, "FCGI_MPXS_CONNS", "0")
		}
	}
	c.writeRecord(fcgi.TypeGetValuesResult, 0, out)
}

func (c *fcgiConn) writeRecord(typ uint8, id uint16, content []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.IOTimeout))
	if err := fcgi.WriteRecord(c.bw, typ, id, content); err != nil {
		return err
	}
	return c.bw.Flush()
}

func (c *fcgiConn) endRequest(id uint16, protocolStatus uint8) error {
	return c.writeRecord(fcgi.TypeEndRequest, id, fcgi.AppendEndRequest(nil, 0, protocolStatus))
}

// exchange runs one request and reports whether the connection can carry
// another.
func (c *fcgiConn) exchange(ex *fcgiExchange) bool {
	a := c.srv.App
	r := a.Begin(ex, nil)

	var err error
	c.pairs, err = fcgi.ParseParams(ex.params, c.pairs[:0])
	status, length := 400, core.BodyAbsent
	if err != nil {
		a.Log().Warn("malformed FastCGI variables", "remote", c.nc.RemoteAddr().String(), "error", err)
	} else {
		status, length = r.EnvironFromCGI(c.pairs, c.local, maxHeaders(c.srv.MaxHeaders))
	}
	if status == 0 && length == core.BodyAbsent && !ex.stdinEnded() {
		// No CONTENT_LENGTH, but a body: read to its end (SetBody).
		length = core.BodyUnknown
	}
	ending := r.Serve(status, ex, length, false)
	close(ex.done) // the reader drops what is left of its stdin

	switch {
	case ex.failed:
		return false
	case ex.wasAborted():
		// The front server gave up on it: it only waits for the end.
	case ending != core.Open:
		// Cut short (an error after the head, a timeout): closing
		// without an end-request record tells the front server the
		// response is incomplete.
		c.wmu.Lock()
		c.bw.Flush()
		c.wmu.Unlock()
		return false
	}
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.IOTimeout))
	fcgi.WriteRecord(c.bw, fcgi.TypeStdout, ex.id, nil)
	fcgi.WriteRecord(c.bw, fcgi.TypeEndRequest, ex.id, fcgi.AppendEndRequest(nil, 0, fcgi.StatusRequestComplete))
	err = c.bw.Flush()
	c.wmu.Unlock()
	return err == nil && ex.keepConn
}

// stdinEnded reports whether the request has no body: its stdin stream
// ends before any data. A first record of data stays pending for Read.
func (ex *fcgiExchange) stdinEnded() bool {
	if len(ex.pending) > 0 {
		return false
	}
	if ex.eof {
		return true
	}
	if err := ex.receive(); err != nil {
		return err == io.EOF
	}
	return false
}

var errFCGIAborted = errors.New("the front server aborted the request (FCGI_ABORT_REQUEST)")

// receive waits for the next stdin record.
func (ex *fcgiExchange) receive() error {
	ex.c.nc.SetReadDeadline(time.Now().Add(ex.c.srv.IOTimeout))
	defer ex.c.nc.SetReadDeadline(time.Time{})
	select {
	case b, ok := <-ex.stdin:
		if !ok {
			ex.eof = true
			return io.EOF
		}
		ex.pending = b
		return nil
	case <-ex.broken:
		if ex.readErr == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return ex.readErr
	case <-ex.aborted:
		return errFCGIAborted
	}
}

// Read is the request body: the stdin stream, as it arrives.
func (ex *fcgiExchange) Read(p []byte) (int, error) {
	for len(ex.pending) == 0 {
		if ex.eof {
			return 0, io.EOF
		}
		if err := ex.receive(); err != nil {
			return 0, err
		}
	}
	n := copy(p, ex.pending)
	ex.pending = ex.pending[n:]
	return n, nil
}

// The sink side: a CGI response in stdout records.

func (ex *fcgiExchange) WriteHead(h *core.ResponseHead) error {
	b := append(ex.head[:0], "Status: "...)
	b = appendCGIHead(append(b, h.Line...), h)
	ex.head = b
	return ex.stdout(b, nil, false)
}

// appendCGIHead appends the rest of a CGI response head after its status
// line: the headers, a Content-Length when the length is known and the
// application gave none, and the blank line.
func appendCGIHead(b []byte, h *core.ResponseHead) []byte {
	b = append(b, "\r\n"...)
	for _, f := range h.Fields {
		b = append(append(append(append(b, f[0]...), ": "...), f[1]...), "\r\n"...)
	}
	if h.Length >= 0 && h.Declared < 0 {
		b = strconv.AppendInt(append(b, "Content-Length: "...), h.Length, 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

func (ex *fcgiExchange) WriteBody(a, b []byte, flush bool) error {
	return ex.stdout(a, b, flush)
}

func (ex *fcgiExchange) stdout(a, b []byte, flush bool) error {
	if ex.wasAborted() {
		return errFCGIAborted
	}
	c := ex.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.IOTimeout))
	err := fcgi.WriteStream(c.bw, fcgi.TypeStdout, ex.id, a)
	if err == nil {
		err = fcgi.WriteStream(c.bw, fcgi.TypeStdout, ex.id, b)
	}
	if err == nil && flush {
		err = c.bw.Flush()
	}
	if err != nil {
		ex.failed = true
	}
	return err
}

// sendFile copies the file into stdout records: the framing rules out
// sendfile(2).
func (ex *fcgiExchange) SendFile(fd int, off, n int64) (int64, error) {
	return core.WriteFileRange(fcgiBodyWriter{ex}, fd, off, n)
}

type fcgiBodyWriter struct{ ex *fcgiExchange }

func (w fcgiBodyWriter) Write(p []byte) (int, error) {
	if err := w.ex.stdout(p, nil, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (ex *fcgiExchange) End() error { return nil }

// Abort sends what was written and closes the connection.
func (ex *fcgiExchange) Abort() {
	c := ex.c
	c.wmu.Lock()
	c.bw.Flush()
	c.wmu.Unlock()
	c.nc.Close()
}
