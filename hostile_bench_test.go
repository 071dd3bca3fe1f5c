package gowsgi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/fcgi"
)

// What a request with very many headers costs the server, through FastCGI
// (as CGI variables) and the engine (as header lines, with the header
// count unlimited): the cost of building its environ must grow linearly
// with them. docs/reliability.md has the figures and the command.

// manyVars is n distinct header variables (names of the same length, the
// worst case for comparing names) after the variables of a GET.
func manyVars(n int) []string {
	vars := append([]string(nil), getVars...)
	for i := range n {
		vars = append(vars, fmt.Sprintf("HTTP_X_%06d", i), "v")
	}
	return vars
}

func benchFastCGI(b *testing.B, vars []string) {
	app := benchApp(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &FastCGIServer{App: app, MaxHeaders: -1}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown(b.Context()) })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var params []byte
	for i := 0; i+1 < len(vars); i += 2 {
		params = fcgi.AppendParam(params, vars[i], vars[i+1])
	}
	b.ReportMetric(float64(len(params)), "params-bytes")
	rd := fcgi.NewReader(c)
	bw := bufio.NewWriter(c)
	b.ResetTimer()
	for range b.N {
		fcgi.WriteRecord(bw, fcgi.TypeBeginRequest, 1, fcgi.AppendBeginRequest(nil, fcgi.RoleResponder, fcgi.FlagKeepConn))
		fcgi.WriteStream(bw, fcgi.TypeParams, 1, params)
		fcgi.WriteRecord(bw, fcgi.TypeParams, 1, nil)
		fcgi.WriteRecord(bw, fcgi.TypeStdin, 1, nil)
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		var out strings.Builder
		for {
			rec, err := rd.Next()
			if err != nil {
				b.Fatal(err)
			}
			if rec.Type == fcgi.TypeStdout {
				out.Write(rec.Content)
			}
			if rec.Type == fcgi.TypeEndRequest {
				break
			}
		}
		if !strings.HasPrefix(out.String(), "Status: 200 ") {
			b.Fatalf("%.200q", out.String())
		}
	}
}

// BenchmarkFastCGIVars32000: one request of 32,000 header variables.
func BenchmarkFastCGIVars32000(b *testing.B) { benchFastCGI(b, manyVars(32000)) }

// BenchmarkFastCGIParams1MiB: variables filling the 1 MiB of params a
// request may send, as many as fit (15 bytes each).
func BenchmarkFastCGIParams1MiB(b *testing.B) {
	n := (1<<20 - 200) / len(fcgi.AppendParam(nil, "HTTP_X_000000", "v"))
	benchFastCGI(b, manyVars(n))
}

// BenchmarkEngineHeaders32000: one request of 32,000 distinct header
// lines, the header count unlimited (--limit-request-fields 0).
func BenchmarkEngineHeaders32000(b *testing.B) {
	app := benchApp(b)
	srv := &Server{App: app, Limits: Limits{Fields: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown(b.Context()) })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var req strings.Builder
	req.WriteString("GET / HTTP/1.1\r\nHost: bench\r\n")
	for i := range 32000 {
		fmt.Fprintf(&req, "X-%06d: v\r\n", i)
	}
	req.WriteString("\r\n")
	br := bufio.NewReader(c)
	b.ReportMetric(float64(req.Len()), "head-bytes")
	b.ResetTimer()
	for range b.N {
		if _, err := io.WriteString(c, req.String()); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
