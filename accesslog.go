package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAccessLogFormat is gunicorn's default access log format.
const DefaultAccessLogFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// accessLogger writes one line per request in gunicorn's format language:
// %(atom)s where atom is one of
//
//	h remote address   l "-"            u user name (HTTP basic auth)
//	t time [10/Oct/2000:13:55:36 -0700]   r request line
//	m method  U path  q query string  H protocol
//	s status  B response length  b response length or "-"
//	f referer  a user agent
//	T seconds  M milliseconds  D microseconds  L decimal seconds
//	p process id  {name}i request header  {name}o response header
type accessLogger struct {
	mu    sync.Mutex
	w     io.Writer
	parts []accessPart
	bufs  sync.Pool
}

type accessPart struct {
	literal string
	atom    string // "" for a literal
	arg     string // {name}i: the CGI name (HTTP_NAME); {name}o: the header name
}

func newAccessLogger(w io.Writer, format string) (*accessLogger, error) {
	if w == nil {
		return nil, nil
	}
	if format == "" {
		format = DefaultAccessLogFormat
	}
	parts, err := parseAccessFormat(format)
	if err != nil {
		return nil, err
	}
	return &accessLogger{w: w, parts: parts, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}, nil
}

func parseAccessFormat(format string) ([]accessPart, error) {
	var parts []accessPart
	var lit strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if strings.HasPrefix(format[i:], "%%") {
			lit.WriteByte('%')
			i++
			continue
		}
		end := strings.Index(format[i:], ")s")
		if !strings.HasPrefix(format[i:], "%(") || end < 0 {
			return nil, fmt.Errorf("gowsgi: access log format: expected %%(atom)s at %q", format[i:])
		}
		atom := format[i+2 : i+end]
		i += end + 1
		p := accessPart{atom: atom}
		if strings.HasPrefix(atom, "{") {
			close := strings.IndexByte(atom, '}')
			if close < 0 || close+2 != len(atom) || (atom[close+1] != 'i' && atom[close+1] != 'o') {
				return nil, fmt.Errorf("gowsgi: access log format: bad atom %q (use {header}i or {header}o)", atom)
			}
			p.arg, p.atom = atom[1:close], atom[close+1:]
			if p.atom == "i" {
				p.arg = cgiHeaderName(p.arg)
			}
		} else if !strings.Contains("h l u t r m U q H s B b f a T M D L p", atom) || len(atom) != 1 {
			return nil, fmt.Errorf("gowsgi: access log format: unknown atom %q", atom)
		}
		if lit.Len() > 0 {
			parts = append(parts, accessPart{literal: lit.String()})
			lit.Reset()
		}
		parts = append(parts, p)
	}
	if lit.Len() > 0 {
		parts = append(parts, accessPart{literal: lit.String()})
	}
	return parts, nil
}

func (l *accessLogger) log(r *request) {
	if l == nil {
		return
	}
	b := l.bufs.Get().(*bytes.Buffer)
	b.Reset()
	started := r.info.started
	elapsed := time.Since(started)
	for _, p := range l.parts {
		if p.atom == "" {
			b.WriteString(p.literal)
			continue
		}
		switch p.atom {
		case "h":
			b.Write(r.envValue(C.GW_K_REMOTE_ADDR))
		case "l":
			b.WriteByte('-')
		case "u":
			b.WriteString(dash(basicAuthUser(string(r.envValue(C.GW_K_HTTP_AUTHORIZATION)))))
		case "t":
			b.Write(started.AppendFormat(b.AvailableBuffer(), "[02/Jan/2006:15:04:05 -0700]"))
		case "r":
			b.Write(r.envValue(C.GW_K_REQUEST_METHOD))
			b.WriteByte(' ')
			b.Write(r.envValue(C.GW_K_REQUEST_URI))
			b.WriteByte(' ')
			b.Write(r.envValue(C.GW_K_SERVER_PROTOCOL))
		case "m":
			b.Write(r.envValue(C.GW_K_REQUEST_METHOD))
		case "U":
			path, _, _ := bytes.Cut(r.envValue(C.GW_K_REQUEST_URI), []byte("?"))
			b.Write(path)
		case "q":
			b.Write(r.envValue(C.GW_K_QUERY_STRING))
		case "H":
			b.Write(r.envValue(C.GW_K_SERVER_PROTOCOL))
		case "s":
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(r.status), 10))
		case "B":
			b.Write(strconv.AppendInt(b.AvailableBuffer(), r.info.outBytes, 10))
		case "b":
			if r.info.outBytes == 0 {
				b.WriteByte('-')
			} else {
				b.Write(strconv.AppendInt(b.AvailableBuffer(), r.info.outBytes, 10))
			}
		case "f":
			writeDash(b, r.envValue(C.GW_K_HTTP_REFERER))
		case "a":
			writeDash(b, r.envValue(C.GW_K_HTTP_USER_AGENT))
		case "T":
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(elapsed/time.Second), 10))
		case "M":
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(elapsed/time.Millisecond), 10))
		case "D":
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(elapsed/time.Microsecond), 10))
		case "L":
			b.Write(strconv.AppendFloat(b.AvailableBuffer(), elapsed.Seconds(), 'f', 6, 64))
		case "p":
			b.WriteString("<" + strconv.Itoa(os.Getpid()) + ">")
		case "i":
			writeDash(b, r.envNamed(p.arg))
		case "o":
			writeDash(b, r.responseHeader(p.arg))
		}
	}
	b.WriteByte('\n')
	l.mu.Lock()
	l.w.Write(b.Bytes())
	l.mu.Unlock()
	l.bufs.Put(b)
}

func writeDash(b *bytes.Buffer, v []byte) {
	if len(v) == 0 {
		b.WriteByte('-')
		return
	}
	b.Write(v)
}

// cgiHeaderName is the environ name of a request header: HTTP_USER_AGENT
// for User-Agent.
func cgiHeaderName(name string) string {
	out := []byte("HTTP_")
	for i := 0; i < len(name); i++ {
		out = append(out, cgiByte(name[i]))
	}
	switch string(out) {
	case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH":
		return string(out[5:])
	}
	return string(out)
}

// responseHeader is the value of a header the response carried.
func (r *request) responseHeader(name string) []byte {
	if !r.headSent {
		return nil
	}
	for _, f := range r.hd.fields {
		if strings.EqualFold(string(f[0]), name) {
			return f[1]
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// basicAuthUser is the user name of an "Authorization: Basic" header.
func basicAuthUser(auth string) string {
	scheme, cred, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return ""
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	user, _, _ := strings.Cut(string(dec), ":")
	return user
}
