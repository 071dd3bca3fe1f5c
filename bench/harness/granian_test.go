package main

import (
	"strings"
	"testing"
	"time"
)

// oha 1.16's JSON report, trimmed to what the harness reads and what
// surrounds it.
const ohaOutput = `{"summary":{"successRate":1.0,"total":10.0,"slowest":0.024973117,"fastest":1.6875e-05,
"average":0.000743008,"requestsPerSec":85812.5,"totalData":679887,"sizePerRequest":1024,"sizePerSec":678559.0},
"latencyPercentiles":{"p10":2.1e-05,"p50":5.4982e-05,"p99":0.00605088,"p99.9":0.0008},
"rps":{"mean":85000.0},"statusCodeDistribution":{"200":858125,"500":3},
"errorDistribution":{"aborted due to deadline":64,"connection closed":2}}`

func TestParseOha(t *testing.T) {
	r, err := parseOha([]byte(ohaOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := ohaResult{rps: 85812.5, avg: 743008 * time.Nanosecond, p99: 6050880 * time.Nanosecond,
		slowest: 24973117 * time.Nanosecond, ok: 858125, failed: 5}
	if r != want {
		t.Errorf("parseOha = %+v, want %+v", r, want)
	}
	if _, err := parseOha([]byte("error: connection refused")); err == nil {
		t.Error("parseOha accepted output that is not oha's JSON")
	}
}

// Granian runs as its own method starts it; gowsgi with as many Python
// threads as Granian has blocking threads.
func TestGranianMethodServers(t *testing.T) {
	cfg := config{root: "/repo", venv: "/repo/bin/venv-bench"}
	cmds := map[string]string{}
	for _, s := range granianServers(cfg) {
		cmds[s.name] = strings.Join(s.command("granian_app:app", 19801, 1024, 1), " ")
	}
	for name, want := range map[string][]string{
		"granian": {"/repo/bin/venv-bench/bin/granian --interface wsgi --log-level warning --backlog 2048 --no-ws --http 1 --workers 1 --runtime-threads 1 --blocking-threads 1024 --runtime-mode auto", "granian_app:app"},
		"gowsgi":  {"/repo/bin/gowsgi -b 127.0.0.1:19801 -w 1 --threads 1024", "granian_app:app"},
	} {
		for _, w := range want {
			if !strings.Contains(cmds[name], w) {
				t.Errorf("%s: %q lacks %q", name, cmds[name], w)
			}
		}
	}
	for _, b := range granianBenches() {
		if b.threads != 1 && b.threads != granianDefaultThreads {
			t.Errorf("%s: %d threads, neither Granian's --blocking-threads 1 nor its default", b.title, b.threads)
		}
	}
}
