package gowsgi

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// CGIOptions adjust ServeCGI.
type CGIOptions struct {
	// IIS corrects PATH_INFO as wsgiref.handlers.IISCGIHandler does: IIS
	// sends the whole path in PATH_INFO, SCRIPT_NAME included, so a
	// PATH_INFO that starts with SCRIPT_NAME loses that prefix.
	IIS bool
}

// ServeCGI runs one request as a CGI program does, like
// wsgiref.handlers.CGIHandler: env holds the CGI variables ("NAME=value",
// as os.Environ returns them; all of them reach the environ, as in
// wsgiref), stdin the body, and the CGI response ("Status: 200 OK", the
// headers, a blank line, the body) goes to stdout. An application error
// before the head becomes a 500 response, its traceback in the error log.
// It returns an error when the response could not be written whole.
// The App should have been made with RunOnce and Multiprocess set (and
// one thread), as CGIHandler's environ says.
func (a *App) ServeCGI(env []string, stdin io.Reader, stdout io.Writer, opts CGIOptions) error {
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
	if opts.IIS && scriptName >= 0 && pathInfo >= 0 {
		if p, ok := strings.CutPrefix(string(vars[pathInfo][1]), string(vars[scriptName][1])); ok {
			vars[pathInfo][1] = []byte(p)
		}
	}

	r := a.getRequest()
	defer a.putRequest(r)
	s := &cgiSink{w: bufio.NewWriterSize(stdout, writeBufSize)}
	r.sink = s
	r.stamp()
	req := r.environFromCGI(vars, cgiLocal{name: "localhost", port: "80"})
	var body io.Reader
	if req.length > 0 {
		body = io.LimitReader(stdin, req.length)
	}
	r.runCGI(req, body)
	a.access.log(r)
	if err := s.w.Flush(); err != nil {
		return err
	}
	if r.clientGone {
		return errors.New("the response was cut short")
	}
	return nil
}

// cgiSink writes a CGI response.
type cgiSink struct {
	w    *bufio.Writer
	head []byte
}

func (s *cgiSink) writeHead(h *responseHead, length int64) error {
	b := append(s.head[:0], "Status: "...)
	s.head = appendCGIHead(append(b, h.line...), h, length)
	_, err := s.w.Write(s.head)
	return err
}

func (s *cgiSink) writeBody(a, b []byte, flush bool) error {
	s.w.Write(a)
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	if flush {
		return s.w.Flush()
	}
	return nil
}

func (s *cgiSink) sendFile(fd int, off, n int64) (int64, error) {
	if err := s.w.Flush(); err != nil {
		return 0, err
	}
	return copyFileRange(s.w, fd, off, n)
}

func (s *cgiSink) end() error { return s.w.Flush() }

func (s *cgiSink) abort() { s.w.Flush() }
