package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// peerReport is a report of the pinned runs with 1 and 8 threads at 1 and
// 64 connections; runs maps (app, server with its run's suffix, conns) to
// the one run measured.
func peerReport(apps []string, runs map[key]result, failures map[key]string) *report {
	cfg := config{
		servers:     []string{"gowsgi", "uwsgi-http11", "granian", "bjoern", "fastwsgi", "pyruvate", "gunicorn-sync", "gunicorn-gthread", "waitress", "go-net/http"},
		apps:        apps,
		conns:       []int{1, 64},
		threads:     1,
		moreThreads: 8,
		root:        "/repo",
		venv:        "/repo/bin/venv-bench",
	}
	rep := &report{cfg: cfg, results: map[key]*measurement{}, failures: map[key]string{}}
	for k, r := range runs {
		rep.results[k] = &measurement{runs: []result{r}}
	}
	for k, f := range failures {
		rep.failures[k] = f
	}
	return rep
}

const eight = " (8 threads)"

// The best peer is the fastest WSGI server that passed the checks and had
// no errors: not Go's net/http, not a faster server that failed the
// checks or answered with errors.
func TestBestPeer(t *testing.T) {
	rep := peerReport([]string{"hello"}, map[key]result{
		{"hello", "gowsgi", 64}:       {rps: 90000},
		{"hello", "go-net/http", 64}:  {rps: 200000},
		{"hello", "bjoern", 64}:       {rps: 100000},
		{"hello", "fastwsgi", 64}:     {rps: 150000},
		{"hello", "pyruvate", 64}:     {rps: 120000, errors: 30},
		{"hello", "granian", 64}:      {rps: 70000},
		{"hello", "uwsgi-http11", 64}: {rps: 20000},
	}, map[key]string{{"hello", "fastwsgi", 0}: "status 500 Internal Server Error"})
	c := rep.comparePeers("hello", "", 64)
	if c.best != "bjoern" || c.ratio() != 0.9 || c.ahead() || c.level() {
		t.Errorf("best %s, ratio %v, ahead %v, level %v; want bjoern, 0.9, behind", c.best, c.ratio(), c.ahead(), c.level())
	}
	if want := "0.90× bjoern (90000 vs 100000 req/s)"; c.measured() != want {
		t.Errorf("measured %q, want %q", c.measured(), want)
	}
	if !slices.Equal(c.excluded, []string{"fastwsgi fails: status 500 Internal Server Error", "pyruvate 120000 req/s with 30 errors"}) {
		t.Errorf("excluded %q", c.excluded)
	}

	// The run with 8 threads is compared within itself.
	rep = peerReport([]string{"hello"}, map[key]result{
		{"hello", "gowsgi", 64}:           {rps: 90000},
		{"hello", "bjoern", 64}:           {rps: 100000},
		{"hello", "gowsgi" + eight, 64}:   {rps: 90000},
		{"hello", "granian" + eight, 64}:  {rps: 60000},
		{"hello", "bjoern" + eight, 0}:    {rps: 1e9}, // not a measurement
		{"hello", "waitress" + eight, 64}: {rps: 30000},
	}, nil)
	if c := rep.comparePeers("hello", eight, 64); c.best != "granian" || c.ratio() != 1.5 || !c.ahead() {
		t.Errorf("8 threads: best %s, ratio %v; want granian 1.5, ahead", c.best, c.ratio())
	}
	// gowsgi's own errors make it neither ahead nor level.
	rep = peerReport([]string{"hello"}, map[key]result{
		{"hello", "gowsgi", 64}: {rps: 90000, errors: 1},
		{"hello", "bjoern", 64}: {rps: 10000},
	}, nil)
	if c := rep.comparePeers("hello", "", 64); c.ahead() || c.level() || !strings.Contains(c.measured(), "gowsgi had 1 errors") {
		t.Errorf("gowsgi with errors: ahead %v, level %v, %q", c.ahead(), c.level(), c.measured())
	}
}

func targetNamed(t *testing.T, rep *report, name string) target {
	t.Helper()
	for _, tg := range rep.targets {
		if tg.name == name {
			return tg
		}
	}
	var names []string
	for _, tg := range rep.targets {
		names = append(names, tg.name)
	}
	t.Fatalf("no target %q among %q", name, names)
	return target{}
}

// At 64 connections gowsgi must be ahead of every peer on every
// application, at one connection at least level; sleep, with its own 64
// threads, is not run again with 8.
func TestPeerTargets(t *testing.T) {
	runs := map[key]result{}
	for _, a := range []string{"hello", "json", "sleep"} {
		for _, suffix := range []string{"", eight} {
			if a == "sleep" && suffix != "" {
				continue
			}
			runs[key{a, "gowsgi" + suffix, 1}] = result{rps: 1000}
			runs[key{a, "bjoern" + suffix, 1}] = result{rps: 1000} // level
			runs[key{a, "gowsgi" + suffix, 64}] = result{rps: 2000}
			runs[key{a, "bjoern" + suffix, 64}] = result{rps: 1500}
		}
	}
	runs[key{"json", "granian" + eight, 64}] = result{rps: 2500}
	runs[key{"hello", "granian", 1}] = result{rps: 1100}
	rep := peerReport([]string{"hello", "json", "sleep"}, runs, nil)
	rep.peerTargets()

	for _, c := range []struct {
		name, measured string
		met            bool
	}{
		{"every application at 1 connection, 1 thread: gowsgi at least level with the fastest peer",
			"2 of 3; not on hello 0.91× granian (1000 vs 1100 req/s)", false},
		{"every application at 64 connections, 1 thread: gowsgi ahead of every peer", "3 of 3", true},
		{"every application at 1 connection, 8 threads: gowsgi at least level with the fastest peer", "2 of 2", true},
		{"every application at 64 connections, 8 threads: gowsgi ahead of every peer",
			"1 of 2; not on json 0.80× granian (2000 vs 2500 req/s)", false},
	} {
		got := targetNamed(t, rep, c.name)
		if got.measured != c.measured || got.met != c.met {
			t.Errorf("%s: %q met %v, want %q met %v", c.name, got.measured, got.met, c.measured, c.met)
		}
	}
}

// The targets that compare gowsgi with uWSGI at one connection and with 8
// threads, and hello's latency spread.
func TestUWSGIAndLatencyTargets(t *testing.T) {
	for _, c := range []struct {
		gowsgi1, uwsgi1, gowsgi8, uwsgi8 float64
		p50, p99                         time.Duration
		met                              [3]bool
	}{
		{9000, 9000, 120000, 60000, 500 * time.Microsecond, 1500 * time.Microsecond, [3]bool{true, true, true}},
		{8900, 9000, 119000, 60000, 500 * time.Microsecond, 1600 * time.Microsecond, [3]bool{false, false, false}},
	} {
		rep := peerReport([]string{"hello"}, map[key]result{
			{"hello", "gowsgi", 1}:                {rps: c.gowsgi1},
			{"hello", "uwsgi-http11", 1}:          {rps: c.uwsgi1},
			{"hello", "gowsgi", 64}:               {rps: 100000, p50: c.p50, p99: c.p99},
			{"hello", "uwsgi-http11", 64}:         {rps: 20000},
			{"hello", "gowsgi" + eight, 64}:       {rps: c.gowsgi8},
			{"hello", "uwsgi-http11" + eight, 64}: {rps: c.uwsgi8},
		}, nil)
		rep.evaluate()
		for i, name := range []string{
			"hello at 1 connection: gowsgi / uwsgi-http11",
			"hello with 8 threads at 64 connections: gowsgi / uwsgi-http11 with 8 threads",
			"hello at 64 connections: gowsgi's p99 / p50",
		} {
			if got := targetNamed(t, rep, name); got.met != c.met[i] {
				t.Errorf("%+v: %s: met %v (%s), want %v", c, name, got.met, got.measured, c.met[i])
			}
		}
	}
}

// Every server serves from the benchmark's virtualenv, with the threads it
// is given, or says it has none.
func TestServerCommands(t *testing.T) {
	cfg := peerReport(nil, nil, nil).cfg
	byName := map[string]server{}
	for _, s := range servers(cfg.root, cfg.venv, cfg.baseline) {
		byName[s.name] = s
		if s.name != "go-net/http" && s.notPeer {
			t.Errorf("%s is not counted as a peer", s.name)
		}
	}
	for _, name := range cfg.servers {
		if _, ok := byName[name]; !ok {
			t.Errorf("no server %s", name)
		}
	}
	has := func(name string, want ...string) {
		t.Helper()
		cmd := strings.Join(byName[name].command("json", 19000, 8, 1), " ")
		for _, w := range want {
			if !strings.Contains(cmd, w) {
				t.Errorf("%s: %q lacks %q", name, cmd, w)
			}
		}
	}
	has("gowsgi", "--virtualenv /repo/bin/venv-bench", "--threads 8")
	has("uwsgi-http11", "--virtualenv /repo/bin/venv-bench", "--threads 8", "--http11-socket 127.0.0.1:19000")
	has("granian", "/repo/bin/venv-bench/bin/granian --interface wsgi", "--blocking-threads 8", "--workers 1", "--port 19000")
	has("gunicorn-gthread", "/repo/bin/venv-bench/bin/python -m gunicorn", "-k gthread --threads 8")
	has("gunicorn-sync", "/repo/bin/venv-bench/bin/python -m gunicorn", "-k sync")
	has("waitress", "/repo/bin/venv-bench/bin/python -m waitress", "--threads=8")
	for _, name := range []string{"bjoern", "fastwsgi", "pyruvate"} {
		has(name, "/repo/bin/venv-bench/bin/python /repo/bench/apps/serve_peer.py "+name+" bench_apps:json 19000 8")
	}
	for name, want := range map[string]string{"bjoern": "single-threaded", "fastwsgi": "single-threaded", "pyruvate": "8",
		"gunicorn-sync": "none (sync worker)", "granian": "8", "go-net/http": "no Python"} {
		if got := byName[name].threadsLabel(8); got != want {
			t.Errorf("%s with 8 threads: %q, want %q", name, got, want)
		}
	}
	if !byName["go-net/http"].notPeer {
		t.Error("Go's net/http is counted as a peer")
	}
}

// The report shows the ratio to the best peer for every run, the runs
// with 8 threads, the single-threaded servers as such, and a server that
// failed an application as failing it.
func TestPeersMarkdown(t *testing.T) {
	runs := map[key]result{}
	for _, suffix := range []string{"", eight} {
		for _, c := range []int{1, 64} {
			runs[key{"hello", "gowsgi" + suffix, c}] = result{rps: 1000}
			runs[key{"hello", "bjoern" + suffix, c}] = result{rps: 1250}
		}
	}
	runs[key{"sleep", "gowsgi", 64}] = result{rps: 6000}
	rep := peerReport([]string{"hello", "sleep"}, runs, map[key]string{{"hello", "fastwsgi" + eight, 0}: "wrong after the load: status 500"})
	md := rep.markdown()
	for _, want := range []string{
		"| application | 1 connection, 1 thread | 64 connections, 1 thread | 1 connection, 8 threads | 64 connections, 8 threads |",
		"| hello | **0.80× bjoern (1000 vs 1250 req/s)** | **0.80× bjoern (1000 vs 1250 req/s)** |",
		"| sleep | **gowsgi not measured** | **no peer measured** | – (64 threads in every run) |",
		"| uwsgi-http11 | 8 | not measured |",
		"– (64 threads in every run) |",
		"- hello at 1 connection, 8 threads: fastwsgi fails: wrong after the load: status 500",
		"## Results with 8 Python threads",
		"| bjoern | single-threaded | 1250 | 1250 |",
		"| fastwsgi | single-threaded | fails: wrong after the load: status 500 |",
		"| gunicorn-sync | none (sync worker) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// sleep has no run with 8 threads of its own.
	if _, rest, _ := strings.Cut(md, "## Results with 8 Python threads"); strings.Contains(rest, "### sleep") {
		t.Error("sleep is in the run with 8 threads")
	}
}

// An earlier build run beside gowsgi is compared with it, run by run, and
// never counted as a peer.
func TestBaseline(t *testing.T) {
	rep := peerReport([]string{"hello"}, map[key]result{
		{"hello", "gowsgi", 1}:                {rps: 12000},
		{"hello", beforeName, 1}:              {rps: 10000},
		{"hello", "gowsgi", 64}:               {rps: 90000, p99: 2 * time.Millisecond},
		{"hello", beforeName, 64}:             {rps: 100000, p99: 8 * time.Millisecond},
		{"hello", "bjoern", 64}:               {rps: 80000},
		{"hello", beforeName + eight, 64}:     {rps: 200000},
		{"hello", "gowsgi" + eight, 64}:       {rps: 100000},
		{"hello", "gowsgi" + eight, 1}:        {rps: 1},
		{"hello", beforeName + eight, 1}:      {rps: 1},
		{"hello", "uwsgi-http11" + eight, 64}: {rps: 1},
		{"hello", "uwsgi-http11", 64}:         {rps: 1},
		{"hello", "uwsgi-http11", 1}:          {rps: 1},
		{"hello", "uwsgi-http11" + eight, 1}:  {rps: 1},
	}, nil)
	rep.cfg.baseline, rep.cfg.baselineName = "/repo/bin/gowsgi-before", "b3fe31f"
	if c := rep.comparePeers("hello", "", 64); c.best != "bjoern" {
		t.Errorf("best peer %s, want bjoern: the earlier build is no peer", c.best)
	}
	var b strings.Builder
	rep.beforeMarkdown(func(f string, a ...any) { b.WriteString(fmt.Sprintf(f, a...)) })
	md := b.String()
	for _, want := range []string{"built from b3fe31f", "| hello | 1.20× (12000 vs 10000;", "0.90× (90000 vs 100000; p99 2ms vs 8ms)", "0.50× (100000 vs 200000;"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in\n%s", want, md)
		}
	}
	found := false
	for _, s := range servers(rep.cfg.root, rep.cfg.venv, rep.cfg.baseline) {
		if s.name == beforeName {
			found = strings.Contains(strings.Join(s.command("hello", 1, 1, 1), " "), "/repo/bin/gowsgi-before -b")
		}
	}
	if !found {
		t.Errorf("no %s server running the earlier binary", beforeName)
	}
}
