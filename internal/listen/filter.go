package listen

import (
	"log/slog"
	"net"

	"github.com/gowsgi/gowsgi/internal/allow"
)

// Filter keeps, of the connections ln accepts, those of the peers allowed
// (gunicorn's --uwsgi-allow-from): the uwsgi protocol lets its peer set
// every CGI variable, REMOTE_ADDR included, so only front servers may
// speak it. The others are closed at once and logged. Peers on Unix
// sockets are always allowed.
func Filter(ln Listener, peers allow.List, log *slog.Logger) Listener {
	if peers.Any() {
		return ln
	}
	return Listener{Listener: &filtered{Listener: ln.Listener, peers: peers, log: log}, Protocol: ln.Protocol}
}

type filtered struct {
	net.Listener
	peers allow.List
	log   *slog.Logger
}

func (f *filtered) Accept() (net.Conn, error) {
	for {
		c, err := f.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := ""
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.IP.String()
		}
		if f.peers.Allows(ip) {
			return c, nil
		}
		f.log.Warn("uwsgi connection refused: the peer is not in --uwsgi-allow-from", "peer", c.RemoteAddr().String())
		c.Close()
	}
}
