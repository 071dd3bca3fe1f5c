package gateway

import (
	"bufio"
	"errors"
	"io"
	"strings"

	"github.com/gowsgi/gowsgi/internal/core"
)

// ServeCGI runs one request as a CGI program does, like
// wsgiref.handlers.CGIHandler: env holds the CGI variables ("NAME=value",
// as os.Environ returns them; all of them reach the environ, as in
// wsgiref), stdin the body, and the CGI response ("Status: 200 OK", the
// headers, a blank line, the body) goes to stdout. An application error
// before the head becomes a 500 response, its traceback in the error log.
// It returns an error when the response could not be written whole.
// iis corrects PATH_INFO as wsgiref.handlers.IISCGIHandler does: IIS sends
// the whole path in PATH_INFO, SCRIPT_NAME included, so a PATH_INFO that
// starts with SCRIPT_NAME loses that prefix.
func ServeCGI(a *core.App, env []string, stdin io.Reader, stdout io.Writer, iis bool) error {
	vars := make([][2][]byte, 0, len(env))
	var scriptName, pathInfo int = -1, -1
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case "SCRIPT_NAME":
			scriptName = len(vars)
		case "PATH_INFO":
			pathInfo = len(vars)
		}
		vars = append(vars, [2][]byte{[]byte(name), []byte(value)})
	}
	if iis && scriptName >= 0 && pathInfo >= 0 {
		if p, ok := strings.CutPrefix(string(vars[pathInfo][1]), string(vars[scriptName][1])); ok {
			vars[pathInfo][1] = []byte(p)
		}
	}

	s := &cgiSink{w: bufio.NewWriterSize(stdout, writeBufSize)}
	r := a.Begin(s, nil)
	// No bound on the header variables: the environment of a process is
	// bounded by the system, and the front server that made it chose them.
	status, length := r.EnvironFromCGI(vars, core.Peer{LocalName: "localhost", LocalPort: "80"}, 0)
	var body io.Reader
	if length > 0 {
		body = io.LimitReader(stdin, length)
	}
	ending := r.Serve(status, body, length, false)
	if err := s.w.Flush(); err != nil {
		return err
	}
	if ending == core.Cut {
		return errors.New("the response was cut short")
	}
	return nil
}

// cgiSink writes a CGI response.
type cgiSink struct {
	w    *bufio.Writer
	head []byte
}

func (s *cgiSink) WriteHead(h *core.ResponseHead) error {
	b := append(s.head[:0], "Status: "...)
	s.head = appendCGIHead(append(b, h.Line...), h)
	_, err := s.w.Write(s.head)
	return err
}

func (s *cgiSink) WriteBody(a, b []byte, flush bool) error {
	s.w.Write(a)
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	if flush {
		return s.w.Flush()
	}
	return nil
}

func (s *cgiSink) SendFile(fd int, off, n int64) (int64, error) {
	if err := s.w.Flush(); err != nil {
		return 0, err
	}
	return core.WriteFileRange(s.w, fd, off, n)
}

func (s *cgiSink) End() error { return s.w.Flush() }

func (s *cgiSink) Abort() { s.w.Flush() }
