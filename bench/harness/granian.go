package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Granian's own benchmark of its WSGI interface, as its repository's
// benchmarks/benchmarks.py runs it (the "interfaces", "vs_wsgi" and
// "vs_io" benchmarks, WSGI lines), reproduced for Granian and gowsgi side
// by side: `bench/granian-method`, written to docs/granian-method.md.
//
// The method: each benchmark starts the server afresh (one worker, one
// Rust runtime thread, --backlog 2048, HTTP/1, no websockets), runs oha
// for a primer of 4 s at 8 connections, a warm-up of 3 s at the
// benchmark's connections, then one measured run of 10 s, with pauses of
// 1, 2 and 3 s between; nothing is pinned. The application answers plain
// text without Content-Length.

// granianBench is one line of Granian's published tables.
type granianBench struct {
	title string // as Granian's tables name it
	route string // of bench/apps/granian_app.py
	conns int
	post  int // request body in bytes (a POST); 0: a GET
	// threads: Granian's --blocking-threads where its method sets them;
	// else its default with --backlog 2048, backpressure / 2 = 1024.
	// gowsgi gets as many Python threads.
	threads int
	// published is Granian's own figure (req/s) for this line, from its
	// benchmarks/README.md and vs.md of 2026-08-05 (Granian 2.8.1,
	// Python 3.13, 16 CPUs).
	published float64
	// answer is the length of the expected body.
	answer int
}

// granianDefaultThreads is Granian's default blocking threads for WSGI
// with the --backlog 2048 of its method.
const granianDefaultThreads = 1024

func granianBenches() []granianBench {
	return []granianBench{
		{"get 1KB", "b1k", 64, 0, 1, 143939, 1024},
		{"echo 1KB", "echo", 64, 1024, 1, 138958, 1024},
		{"echo 100KB (iter)", "echoi", 64, 100 * 1024, granianDefaultThreads, 10072, 100 * 1024},
		{"get 10KB", "b10k", 64, 0, 1, 125824, 10 * 1024},
		{"echo 10KB (iter)", "echoi", 64, 10 * 1024, 1, 108084, 10 * 1024},
		{"long I/O 10ms", "io10", 512, 0, granianDefaultThreads, 43224, 10},
		{"long I/O 100ms", "io100", 512, 0, granianDefaultThreads, 5066, 10},
	}
}

// ohaResult is one oha run.
type ohaResult struct {
	rps               float64
	avg, p99, slowest time.Duration
	ok, failed        int64 // 200 answers; other answers and errors
}

// ohaReport is the part of oha's JSON output read here.
type ohaReport struct {
	Summary struct {
		RequestsPerSec float64 `json:"requestsPerSec"`
		Average        float64 `json:"average"`
		Slowest        float64 `json:"slowest"`
	} `json:"summary"`
	LatencyPercentiles     map[string]float64 `json:"latencyPercentiles"`
	StatusCodeDistribution map[string]int64   `json:"statusCodeDistribution"`
	ErrorDistribution      map[string]int64   `json:"errorDistribution"`
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// parseOha reads oha's --output-format json. Runs cut off by the end of
// the duration ("aborted due to deadline") are not errors.
func parseOha(out []byte) (ohaResult, error) {
	var rep ohaReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return ohaResult{}, fmt.Errorf("oha's output: %v: %.200q", err, out)
	}
	r := ohaResult{rps: rep.Summary.RequestsPerSec, avg: seconds(rep.Summary.Average),
		p99: seconds(rep.LatencyPercentiles["p99"]), slowest: seconds(rep.Summary.Slowest)}
	for code, n := range rep.StatusCodeDistribution {
		if code == "200" {
			r.ok += n
		} else {
			r.failed += n
		}
	}
	for e, n := range rep.ErrorDistribution {
		if e != "aborted due to deadline" {
			r.failed += n
		}
	}
	return r, nil
}

func (rep *granianReport) oha(url string, conns int, d time.Duration, body string) (ohaResult, error) {
	args := []string{"--no-tui", "-c", strconv.Itoa(conns), "-z", fmt.Sprintf("%ds", int(d.Seconds())), "--output-format", "json"}
	if body != "" {
		args = append(args, "-m", "POST", "-D", body)
	}
	out, err := exec.Command(rep.ohaPath, append(args, url)...).Output()
	if err != nil {
		return ohaResult{}, fmt.Errorf("oha: %v", err)
	}
	return parseOha(out)
}

type granianReport struct {
	cfg     config
	ohaPath string
	started time.Time
	// results by benchmark title and server; failures likewise.
	results  map[[2]string]ohaResult
	failures map[[2]string]string
}

// granianServers are the two servers, as Granian's method starts Granian.
func granianServers(cfg config) []server {
	apps := filepath.Join(cfg.root, "bench", "apps")
	return []server{
		{name: "granian", command: func(app string, port, threads, workers int) []string {
			return []string{filepath.Join(cfg.venv, "bin", "granian"), "--interface", "wsgi", "--log-level", "warning", "--backlog", "2048",
				"--no-ws", "--http", "1", "--workers", "1", "--runtime-threads", "1", "--blocking-threads", strconv.Itoa(threads),
				"--runtime-mode", "auto", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--working-dir", apps, app}
		}},
		{name: "gowsgi", command: func(app string, port, threads, workers int) []string {
			return []string{filepath.Join(cfg.root, "bin", "gowsgi"), "-b", addr(port), "-w", "1", "--threads", strconv.Itoa(threads),
				"--pythonpath", apps, "--log-level", "warning", app}
		}},
	}
}

// checkGranianAnswer asks the route once and checks the answer's body.
func checkGranianAnswer(url string, b granianBench) error {
	method, body := "GET", []byte(nil)
	if b.post > 0 {
		method, body = "POST", bytes.Repeat([]byte("x"), b.post)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err
	case resp.StatusCode != 200:
		return fmt.Errorf("status %s", resp.Status)
	case len(got) != b.answer || strings.Trim(string(got), "x") != "":
		return fmt.Errorf("%d bytes, want %d times x", len(got), b.answer)
	}
	return nil
}

func granianMethod(cfg config) string {
	rep := &granianReport{cfg: cfg, ohaPath: filepath.Join(cfg.root, "bin", "oha", "bin", "oha"), started: time.Now(),
		results: map[[2]string]ohaResult{}, failures: map[[2]string]string{}}
	if _, err := os.Stat(rep.ohaPath); err != nil {
		log.Fatalf("no oha at %s: `make bench` builds it", rep.ohaPath)
	}
	port := 19800
	for _, b := range granianBenches() {
		var body string
		if b.post > 0 {
			f, err := os.CreateTemp("", "granian-method-body-")
			if err != nil {
				log.Fatal(err)
			}
			f.Write(bytes.Repeat([]byte("x"), b.post))
			f.Close()
			body = f.Name()
		}
		for _, s := range granianServers(cfg) {
			port++
			k := [2]string{b.title, s.name}
			rep.run(k, s, b, port, body)
		}
		if body != "" {
			os.Remove(body)
		}
	}
	return rep.markdown()
}

// run is one benchmark on one server, as Granian's method runs it.
func (rep *granianReport) run(k [2]string, s server, b granianBench, port int, body string) {
	log.Printf("Granian's method: %s / %s", b.title, s.name)
	r, err := start(s.command("granian_app:app", port, b.threads, 1), filepath.Join(rep.cfg.root, "bench", "apps"), "", port, nil)
	if err != nil {
		rep.failures[k] = "did not start: " + firstLine(err.Error())
		return
	}
	defer r.stop()
	url := "http://" + addr(port) + "/" + b.route
	if err := checkGranianAnswer(url, b); err != nil {
		rep.failures[k] = "wrong answer: " + err.Error()
		return
	}
	pause := func(d time.Duration) { time.Sleep(d) }
	rep.oha(url, 8, rep.cfg.warmup+time.Second, body) // the primer
	pause(time.Second)
	rep.oha(url, b.conns, rep.cfg.warmup, body)
	pause(2 * time.Second)
	res, err := rep.oha(url, b.conns, rep.cfg.duration, body)
	pause(3 * time.Second)
	if err != nil {
		rep.failures[k] = err.Error()
		return
	}
	if err := checkGranianAnswer(url, b); err != nil {
		rep.failures[k] = "wrong after the load: " + err.Error()
		return
	}
	rep.results[k] = res
	log.Printf("%s / %s: %.0f req/s, avg %v, p99 %v, max %v, %d failed", b.title, s.name, res.rps, res.avg, res.p99, res.slowest, res.failed)
}

func (rep *granianReport) markdown() string {
	cfg := rep.cfg
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	heading(w, "Granian's benchmark method, for Granian and gowsgi", rep.started, cfg)
	oha := strings.TrimSpace(run(rep.ohaPath, "--version"))
	w("Versions: %s, Python %s, Granian %s, %s.\n\n", firstLine(strings.TrimSpace(run(cfg.root+"/bin/gowsgi", "--version"))),
		strings.TrimSpace(run(python, "-c", "import sys; print(sys.version.split()[0])")),
		strings.TrimSpace(run(filepath.Join(cfg.venv, "bin", "python"), "-c", "import granian; print(granian.__version__)")), oha)
	b.WriteString("Granian publishes benchmarks made by its repository's `benchmarks/benchmarks.py`. This is its method " +
		"for the WSGI lines of its tables (the interfaces, versus and long I/O benchmarks), run here on Granian " +
		"and gowsgi alike (bench/harness/granian.go, application bench/apps/granian_app.py):\n\n" +
		"- each benchmark starts the server afresh: one worker process; Granian as its method starts it " +
		"(`--interface wsgi --backlog 2048 --no-ws --http 1 --workers 1 --runtime-threads 1 --runtime-mode auto`), " +
		"with `--blocking-threads 1` where its method sets it, else its default, which `--backlog 2048` makes 1024; " +
		"gowsgi (`-w 1`) with as many Python threads;\n" +
		fmt.Sprintf("- load from oha: a primer of %v at 8 connections, a warm-up of %v at the benchmark's connections, then one run of %v, "+
			"with pauses of 1, 2 and 3 s; the figures are that one run's;\n", cfg.warmup+time.Second, cfg.warmup, cfg.duration) +
		"- nothing pinned: the server and oha share the machine's CPUs;\n" +
		"- the application answers `text/plain` without Content-Length: 1 KB or 10 KB of `x`, the POSTed body " +
		"read whole (echo) or 4 KiB at a time and yielded (iter), or 10 bytes after sleeping 10 or 100 ms;\n" +
		"- here also, not in Granian's method: every answer is checked before and after the load, and " +
		"answers other than 200 and failed requests are counted.\n\n")
	w("| benchmark | Granian's published req/s | Granian req/s | avg | p99 | max | gowsgi req/s | avg | p99 | max | gowsgi / Granian |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, bench := range granianBenches() {
		w("| %s (c%d, %s) | %.0f |", bench.title, bench.conns, plural(bench.threads, "thread"), bench.published)
		var rates [2]float64
		for i, name := range []string{"granian", "gowsgi"} {
			k := [2]string{bench.title, name}
			if f, failed := rep.failures[k]; failed {
				w(" fails: %s | | | |", strings.ReplaceAll(f, "|", "/"))
				continue
			}
			r, ok := rep.results[k]
			if !ok {
				w(" – | | | |")
				continue
			}
			rates[i] = r.rps
			failed := ""
			if r.failed > 0 {
				failed = fmt.Sprintf(" (%d failed)", r.failed)
			}
			w(" %.0f%s | %v | %v | %v |", r.rps, failed, round(r.avg), round(r.p99), round(r.slowest))
		}
		if rates[0] > 0 && rates[1] > 0 {
			w(" %.2f× |\n", rates[1]/rates[0])
		} else {
			w(" – |\n")
		}
	}
	b.WriteString("\n## What differs\n\n" +
		"From Granian's published run: that machine had 16 CPUs (AMD Ryzen 7 5700X), so oha's threads and the " +
		"server never competed for a CPU; here 2 CPUs are shared by both. Granian there was 2.8.1 built from its " +
		"source with jemalloc, on Python 3.13; here its wheel from PyPI on Debian's Python 3.11, the Python gowsgi embeds. " +
		"Its published figures are one run each, as these are.\n\n" +
		"From gowsgi's own method (docs/benchmarks.md): there the server is pinned to one CPU and wrk, with one " +
		"thread, to the other, so each has a CPU of its own; every figure is the median of 3 runs; the applications " +
		"are hello (13 bytes with Content-Length), a Flask JSON view, ten request headers, a 1 MiB upload, " +
		"streamed and 4 MiB bodies, 10 ms sleeps and a 100 MiB file, at 1, 16 and 64 connections, with 1 and 8 threads; " +
		"and servers start once per application, not per benchmark.\n")
	return b.String()
}
