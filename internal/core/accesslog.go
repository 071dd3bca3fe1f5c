package core

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
//	{NAME}e environ variable (names ignore case, as gunicorn's)
//
// An atom gowsgi does not know is written "-", as gunicorn writes it.
// What clients send is escaped, so that a line cannot be forged: '"'
// becomes \" (as gunicorn writes it), '\' \\, and control characters
// \u00HH: a JSON format stays JSON.
type accessLogger struct {
	mu    sync.Mutex
	w     io.Writer
	parts []accessPart
	bufs  sync.Pool
}

type accessPart struct {
	literal string
	atom    string // "" for a literal
	arg     string // {name}i: the CGI name (HTTP_NAME); {name}o: the header name; {name}e: the environ name
}

// CheckAccessLogFormat tells whether format is a valid access log format
// (Options.AccessLogFormat), as New would: a server can refuse a bad one
// before it starts.
func CheckAccessLogFormat(format string) error {
	_, err := parseAccessFormat(format)
	return err
}

func newAccessLogger(w io.Writer, format string) (*accessLogger, error) {
	if w == nil {
		return nil, nil
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
		end := strings.IndexByte(format[i:], ')')
		if !strings.HasPrefix(format[i:], "%(") || end < 0 || i+end+1 >= len(format) ||
			(format[i+end+1] != 's' && format[i+end+1] != 'd') {
			return nil, fmt.Errorf("gowsgi: access log format: expected %%(atom)s at %q", format[i:])
		}
		atom := format[i+2 : i+end]
		i += end + 1
		p := accessPart{atom: atom}
		if strings.HasPrefix(atom, "{") {
			close := strings.IndexByte(atom, '}')
			if close < 0 || close+2 != len(atom) || !strings.Contains("ioe", atom[close+1:]) {
				p.atom = "-" // not an atom: gunicorn writes "-"
			} else {
				p.arg, p.atom = atom[1:close], atom[close+1:]
				switch p.atom {
				case "i":
					p.arg = cgiHeaderName(p.arg)
				case "e":
					if !strings.EqualFold(p.arg, "wsgi.url_scheme") {
						p.arg = strings.ToUpper(p.arg)
					}
				}
			}
		} else if !strings.Contains("h l u t r m U q H s B b f a T M D L p", atom) || len(atom) != 1 {
			p.atom = "-"
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

func (l *accessLogger) log(r *Request) {
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
		case "-":
			b.WriteByte('-')
		case "h":
			writeEscaped(b, r.envValue(C.GW_K_REMOTE_ADDR))
		case "l":
			b.WriteByte('-')
		case "u":
			writeDash(b, []byte(basicAuthUser(string(r.envValue(C.GW_K_HTTP_AUTHORIZATION)))))
		case "t":
			b.Write(started.AppendFormat(b.AvailableBuffer(), "[02/Jan/2006:15:04:05 -0700]"))
		case "r":
			writeEscaped(b, r.envValue(C.GW_K_REQUEST_METHOD))
			b.WriteByte(' ')
			writeEscaped(b, r.envValue(C.GW_K_REQUEST_URI))
			b.WriteByte(' ')
			writeEscaped(b, r.envValue(C.GW_K_SERVER_PROTOCOL))
		case "m":
			writeEscaped(b, r.envValue(C.GW_K_REQUEST_METHOD))
		case "U":
			path, _, _ := bytes.Cut(r.envValue(C.GW_K_REQUEST_URI), []byte("?"))
			writeEscaped(b, path)
		case "q":
			writeEscaped(b, r.envValue(C.GW_K_QUERY_STRING))
		case "H":
			writeEscaped(b, r.envValue(C.GW_K_SERVER_PROTOCOL))
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
		case "e":
			if strings.EqualFold(p.arg, "wsgi.url_scheme") {
				b.WriteString(r.scheme())
			} else {
				writeDash(b, r.envNamed(p.arg))
			}
		}
	}
	b.WriteByte('\n')
	l.mu.Lock()
	l.w.Write(b.Bytes())
	l.mu.Unlock()
	l.bufs.Put(b)
}

// writeDash writes a value, escaped, or "-" for none.
func writeDash(b *bytes.Buffer, v []byte) {
	if len(v) == 0 {
		b.WriteByte('-')
		return
	}
	writeEscaped(b, v)
}

// writeEscaped writes what a client may have chosen so that it cannot end
// a quoted field or the line: \" for '"' (gunicorn's), \\ for '\', and
// \u00HH for control characters, all of them JSON's escapes too.
func writeEscaped(b *bytes.Buffer, v []byte) {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x20 && c != 0x7f && c != '"' && c != '\\' {
			continue
		}
		b.Write(v[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteString("\\u00")
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
		start = i + 1
	}
	b.Write(v[start:])
}

// scheme is the request's wsgi.url_scheme.
func (r *Request) scheme() string {
	if r.c.in_flags&C.GW_IN_HTTPS != 0 {
		return "https"
	}
	return "http"
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
func (r *Request) responseHeader(name string) []byte {
	if !r.headSent {
		return nil
	}
	for _, f := range r.hd.Fields {
		if strings.EqualFold(string(f[0]), name) {
			return f[1]
		}
	}
	return nil
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
