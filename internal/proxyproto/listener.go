package proxyproto

// The header on connections served by net/http (TLS, HTTP/2): a listener
// whose connections read it before anything else.

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/allow"
)

// Listener yields connections that read a PROXY header first, if their
// peer is allowed to send one. Accept does not read: a connection reads
// its header on its own goroutine, at the first Read, RemoteAddr or
// LocalAddr (net/http asks for RemoteAddr first thing on the connection's
// goroutine), waiting at most Timeout for it.
type Listener struct {
	net.Listener
	Mode    Mode
	Allow   allow.List
	Timeout time.Duration
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.Mode == Off {
		return c, err
	}
	return &Conn{Conn: c, l: l}, nil
}

// Conn is a connection whose PROXY header, if any, has been read off.
type Conn struct {
	net.Conn
	l    *Listener
	once sync.Once
	br   *bufio.Reader // what was read past the header; nil when none is left
	h    *Header       // nil without a header
	err  error         // the header was malformed or not allowed: nothing more is read
}

// Header is the connection's PROXY header, nil when it sent none.
func (c *Conn) Header() *Header { c.once.Do(c.readHeader); return c.h }

// Proxy is the address of the peer that sent the header: the socket's.
func (c *Conn) Proxy() net.Addr { return c.Conn.RemoteAddr() }

func (c *Conn) readHeader() {
	c.br = bufio.NewReaderSize(c.Conn, MaxLength)
	if c.l.Timeout > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(c.l.Timeout))
		defer c.Conn.SetReadDeadline(time.Time{})
	}
	h, n, err := c.scan()
	switch {
	case err == ErrNone:
	case err != nil:
		c.err = err
	case !c.l.Allow.Allows(peerIP(c.Conn.RemoteAddr())):
		// gunicorn's rule: a peer that is not allowed to send a header
		// may speak the protocol itself, but a header it sends is refused.
		c.err = malformed("a header from %s, which is not allowed to send one", c.Conn.RemoteAddr())
	default:
		c.br.Discard(n)
		c.h = &h
	}
}

// scan reads as far as it takes to tell whether a header starts the
// connection, and parses it.
func (c *Conn) scan() (Header, int, error) {
	for want := 1; ; want = c.br.Buffered() + 1 {
		b, err := c.br.Peek(want)
		if len(b) < want {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = malformed("header longer than %d bytes", MaxLength)
			}
			return Header{}, 0, err
		}
		b, _ = c.br.Peek(c.br.Buffered())
		if h, n, err := Parse(b, c.l.Mode); err != ErrIncomplete {
			return h, n, err
		}
	}
}

// Read reads what follows the header.
func (c *Conn) Read(p []byte) (int, error) {
	c.once.Do(c.readHeader)
	if c.err != nil {
		return 0, c.err
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// RemoteAddr is the client's address the header gives, else the peer's.
func (c *Conn) RemoteAddr() net.Addr {
	if h := c.Header(); h != nil && h.HasAddresses() {
		return net.TCPAddrFromAddrPort(h.Source)
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr is the socket's local address, as an Addr that also carries
// the connection, so that a handler finds its header through net/http's
// LocalAddrContextKey.
func (c *Conn) LocalAddr() net.Addr {
	c.Header()
	return Addr{Addr: c.Conn.LocalAddr(), Conn: c}
}

// Addr is a connection's local address and the connection.
type Addr struct {
	net.Addr
	Conn *Conn
}

// peerIP is a peer's IP address as allow.List reads it; "" for a Unix
// socket's peer.
func peerIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	if a == nil || a.Network() == "unix" {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return strings.Trim(host, "[]")
}
