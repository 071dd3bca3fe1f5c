package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/core"
	"github.com/gowsgi/gowsgi/internal/uwsgi"
)

// UWSGI serves an App over the uwsgi protocol, as nginx's uwsgi_pass
// (and Apache's mod_proxy_uwsgi) speak it: one request per connection, its
// CGI variables in a packet (see EnvironFromCGI), the body after it as
// long as CONTENT_LENGTH says, and the response in plain HTTP/1.1 ended by
// closing the connection.
type UWSGI struct {
	App *core.App
	// HeaderTimeout bounds the time to receive the request packet
	// (default 30s).
	HeaderTimeout time.Duration
	// IOTimeout bounds one read of the body or one write of the response
	// that makes no progress (default 60s).
	IOTimeout time.Duration
	// MaxHeaders bounds the header variables (HTTP_*) of one request:
	// more are answered 431 (0: DefaultMaxHeaders; negative: no limit but
	// the 64 KiB packet).
	MaxHeaders int

	once sync.Once
	gw   gateway
}

// Serve accepts uwsgi connections on ln until Shutdown.
func (s *UWSGI) Serve(ln net.Listener) error {
	s.once.Do(func() {
		if s.HeaderTimeout <= 0 {
			s.HeaderTimeout = 30 * time.Second
		}
		if s.IOTimeout <= 0 {
			s.IOTimeout = 60 * time.Second
		}
	})
	return s.gw.serve(ln, s.App.Log(), s.serveConn)
}

// Shutdown stops accepting, closes connections that sent no request, and
// waits for the requests in progress to finish, or for ctx to end.
func (s *UWSGI) Shutdown(ctx context.Context) error { return s.gw.shutdown(ctx) }

func (s *UWSGI) serveConn(gc *gatewayConn) {
	a := s.App
	nc := gc.nc
	u := &uwsgiConn{srv: s, nc: nc, br: bufio.NewReaderSize(nc, readBufSize)}
	u.bw = bufio.NewWriterSize(deadlineConn{nc, s.IOTimeout}, writeBufSize)
	nc.SetReadDeadline(time.Now().Add(s.HeaderTimeout))
	buf := make([]byte, 65535)
	_, vars, err := uwsgi.ReadRequest(u.br, buf, nil)
	if err != nil {
		if err != io.EOF {
			a.Log().Warn("closing a uwsgi connection", "remote", nc.RemoteAddr().String(), "error", err)
		}
		return
	}
	if !gc.start() {
		return
	}
	defer s.gw.finish(gc)

	r := a.Begin(u, nil)
	status, length := r.EnvironFromCGI(vars, localAddr(nc), maxHeaders(s.MaxHeaders))
	var body io.Reader
	if length > 0 {
		u.body.c, u.body.n = u, length
		body = &u.body
	}
	r.Serve(status, body, length, false)
	u.bw.Flush()
}

// uwsgiConn is the connection of one uwsgi request, and the sink of its
// response.
type uwsgiConn struct {
	srv  *UWSGI
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	body uwsgiBody
	head []byte
}

// uwsgiBody reads the CONTENT_LENGTH bytes after the packet.
type uwsgiBody struct {
	c *uwsgiConn
	n int64
}

func (b *uwsgiBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	b.c.nc.SetReadDeadline(time.Now().Add(b.c.srv.IOTimeout))
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (u *uwsgiConn) WriteHead(h *core.ResponseHead) error {
	b := append(u.head[:0], "HTTP/1.1 "...)
	b = appendCGIHead(append(b, h.Line...), h)
	u.head = b
	_, err := u.bw.Write(b)
	return err
}

func (u *uwsgiConn) WriteBody(a, b []byte, flush bool) error {
	if _, err := u.bw.Write(a); err != nil {
		return err
	}
	if _, err := u.bw.Write(b); err != nil {
		return err
	}
	if flush {
		return u.bw.Flush()
	}
	return nil
}

func (u *uwsgiConn) SendFile(fd int, off, n int64) (int64, error) {
	if err := u.bw.Flush(); err != nil {
		return 0, err
	}
	return core.WriteFileRange(deadlineConn{u.nc, u.srv.IOTimeout}, fd, off, n)
}

// End: the response ends when the connection closes.
func (u *uwsgiConn) End() error { return u.bw.Flush() }

func (u *uwsgiConn) Abort() {
	u.bw.Flush()
	u.nc.Close()
}

// deadlineConn renews the write deadline before each write, and hands a
// file to the socket whole (sendfile(2)).
type deadlineConn struct {
	nc      net.Conn
	timeout time.Duration
}

func (d deadlineConn) Write(p []byte) (int, error) {
	d.nc.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.nc.Write(p)
}

func (d deadlineConn) ReadFrom(src io.Reader) (int64, error) {
	d.nc.SetWriteDeadline(time.Now().Add(d.timeout))
	if rf, ok := d.nc.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{d.nc}, src)
}

type writerOnly struct{ io.Writer }
