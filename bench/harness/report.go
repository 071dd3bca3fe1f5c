package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// target is one of the goals the benchmark checks.
type target struct {
	name, measured, goal string
	met                  bool
}

// at64 is the median result of an application and server at the highest
// connection count.
func (rep *report) at64(app, server string) (result, bool) {
	return rep.median(app, server, rep.cfg.conns[len(rep.cfg.conns)-1])
}

// ratio adds a target: gowsgi's rate over another server's at the highest
// connection count.
func (rep *report) ratio(app, other string, goal float64) {
	rep.ratioAt(fmt.Sprintf("%s: gowsgi / %s", app, other), app, other, "", rep.cfg.conns[len(rep.cfg.conns)-1], goal)
}

// ratioAt adds a target: gowsgi's rate over another server's at conns in
// the run of suffix.
func (rep *report) ratioAt(name, app, other, suffix string, conns int, goal float64) {
	g, ok1 := rep.median(app, "gowsgi"+suffix, conns)
	o, ok2 := rep.median(app, other+suffix, conns)
	failure := rep.failures[key{app, other + suffix, 0}]
	t := target{name: name, goal: fmt.Sprintf("≥ %.1f×", goal)}
	switch {
	case !ok1:
		t.measured = "gowsgi not measured"
	case !ok2:
		// The other server failing the check counts for gowsgi.
		t.measured = fmt.Sprintf("%s fails: %s", other, failure)
		if failure == "" {
			t.measured = other + " not measured"
		}
		t.met = g.errors == 0 && failure != ""
	case o.rps < 1:
		// The other server stalls under the load (uWSGI's http11 socket on
		// a response without a length): no meaningful ratio.
		t.measured = fmt.Sprintf("%.0f req/s vs %s %.1f req/s with %d errors", g.rps, other, o.rps, o.errors)
		t.met = g.errors == 0
	default:
		r := g.rps / o.rps
		t.measured = fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", r, g.rps, o.rps)
		t.met = r >= goal && g.errors == 0
	}
	if g.errors > 0 {
		t.measured += fmt.Sprintf("; gowsgi had %d errors", g.errors)
	}
	rep.targets = append(rep.targets, t)
}

func (rep *report) evaluate() {
	conns := rep.cfg.conns[len(rep.cfg.conns)-1]
	for _, c := range []struct {
		app  string
		goal float64
	}{{"hello", 2.0}, {"environ_heavy", 2.0}, {"json", 1.2}, {"upload", 1.2}, {"stream", 1.2}, {"big", 1.2}} {
		rep.ratio(c.app, "uwsgi-http11", c.goal)
	}
	rep.ratioAt(fmt.Sprintf("hello at %s: gowsgi / uwsgi-http11", plural(rep.cfg.conns[0], "connection")),
		"hello", "uwsgi-http11", "", rep.cfg.conns[0], 1.0)
	if phases := pinnedPhases(rep.cfg); len(phases) > 1 {
		more := phases[1]
		rep.ratioAt(fmt.Sprintf("hello with %d threads at %d connections: gowsgi / uwsgi-http11 with %d threads", more.threads, conns, more.threads),
			"hello", "uwsgi-http11", more.suffix, conns, 2.0)
	}
	if g, ok := rep.at64("hello", "gowsgi"); ok {
		spread := float64(g.p99) / float64(max(g.p50, 1))
		rep.targets = append(rep.targets, target{
			name:     fmt.Sprintf("hello at %d connections: gowsgi's p99 / p50", conns),
			measured: fmt.Sprintf("%.1f× (p99 %v, p50 %v)", spread, round(g.p99), round(g.p50)),
			goal:     "≤ 3×", met: g.p50 > 0 && spread <= 3,
		})
	}
	rep.peerTargets()
	if g, ok := rep.at64("hello", "gowsgi"); ok {
		if n, ok := rep.at64("hello", "go-net/http"); ok {
			rep.targets = append(rep.targets, target{
				name:     "hello: gowsgi / Go net/http without Python",
				measured: fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", g.rps/n.rps, g.rps, n.rps),
				goal:     "≥ 1.0×", met: g.rps >= n.rps,
			})
		}
		rep.targets = append(rep.targets, target{
			name:     fmt.Sprintf("memory: hello at %d connections, master and worker (PSS; summed RSS in brackets)", conns),
			measured: fmt.Sprintf("%.1f MiB (%.1f MiB)", float64(g.pss)/(1<<20), float64(g.rss)/(1<<20)),
			goal:     "≤ 40 MiB", met: g.pss <= 40<<20,
		})
	}
	// Every connection served, by Little's law: with n connections each
	// waiting for its answer before sending again, req/s × mean latency is
	// the number of requests in the server at once, n if it serves them
	// all. Judged on json, where the server is the bottleneck: on hello one
	// wrk thread runs out of CPU first, so requests also wait inside wrk,
	// where no latency is counted, and wrk's correction for coordinated
	// omission (synthetic samples for every answer slower than twice the
	// mean interval per connection) then skews the mean it reports.
	if g, ok := rep.at64("json", "gowsgi"); ok {
		little := g.rps * g.avg.Seconds() / float64(conns)
		measured := fmt.Sprintf("%.2f (wrk at %.0f%% CPU)", little, 100*g.wrkCPU)
		if u, ok := rep.at64("json", "uwsgi-http11"); ok {
			measured += fmt.Sprintf("; uwsgi-http11 %.2f", u.rps*u.avg.Seconds()/float64(conns))
		}
		rep.targets = append(rep.targets, target{
			name:     fmt.Sprintf("json: connections served (req/s × mean latency / %d)", conns),
			measured: measured, goal: "≈ 1 (0.9–1.1)", met: little >= 0.9 && little <= 1.1,
		})
	}
	// file: against the better gunicorn (both use sendfile).
	if g, ok := rep.at64("file", "gowsgi"); ok {
		best, bestName := 0.0, ""
		for _, s := range []string{"gunicorn-sync", "gunicorn-gthread"} {
			if o, ok := rep.at64("file", s); ok && o.rps > best {
				best, bestName = o.rps, s
			}
		}
		if best > 0 {
			rep.targets = append(rep.targets, target{
				name:     "file (100 MiB, wsgi.file_wrapper): gowsgi / " + bestName,
				measured: fmt.Sprintf("%.2f× (%.1f vs %.1f req/s), gowsgi errors %d", g.rps/best, g.rps, best, g.errors),
				goal:     "≥ 1.5×", met: g.rps/best >= 1.5 && g.errors == 0,
			})
		}
	}
	if g, ok := rep.at64("sleep", "gowsgi"); ok {
		ideal := float64(conns) / 0.010
		rep.targets = append(rep.targets, target{
			name:     fmt.Sprintf("sleep (10 ms, 64 threads): share of the ideal %.0f req/s", ideal),
			measured: fmt.Sprintf("%.1f%% (%.0f req/s)", 100*g.rps/ideal, g.rps), goal: "≥ 95%",
			met: g.rps >= 0.95*ideal && g.errors == 0,
		})
	}
}

func (rep *report) markdown() string {
	cfg := rep.cfg
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	heading(w, "Benchmarks", rep.started, cfg)
	w("Versions: %s.\n\n", versions(cfg))
	w("Method: one worker process per server, pinned to CPU %s; wrk pinned to CPU %s with one thread; "+
		"%v of load as warm-up, then %d runs of %v at each of %v connections; the median run is shown "+
		"(errors summed over the runs, memory the largest sample, taken halfway through each run, of the "+
		"server's whole process group: RSS summed over its processes, and PSS, which counts the pages they share once). "+
		"Python threads: %d for every server that has threads (64 for sleep)%s; "+
		"gunicorn's sync worker and uWSGI with 1 thread have none, and bjoern and fastwsgi are single-threaded C servers, in both runs. "+
		"Granian runs the application on its blocking threads (`--blocking-threads` set to the threads) with one Rust runtime thread; "+
		"pyruvate on its worker threads, with its defaults: a connection per request (its keep-alive stalls wrk after the first request, its chunked responses are malformed; bench/apps/serve_peer.py). "+
		"Every server but Go's net/http serves the same applications from bench/apps with the same Flask (json): gowsgi and uWSGI with "+
		"`--virtualenv` on the benchmark's virtualenv (bench/requirements.txt), the others from it. Every answer is "+
		"checked before and after the load; a server that fails an application is shown as failing it. CPU is the share of one CPU the server's processes and wrk "+
		"used during the run: the side near 100%% is the bottleneck. Connections served is req/s × mean latency / connections (Little's law), "+
		"taken on json, where the server and not wrk is the bottleneck. Absolute rates drift on shared machines; compare within one run.\n\n",
		dash(cfg.serverCPU), dash(cfg.clientCPU), cfg.warmup, cfg.repeat, cfg.duration, cfg.conns, cfg.threads, moreThreadsRun(cfg))

	w("## Targets\n\n| target | measured | goal | met |\n|---|---|---|---|\n")
	for _, t := range rep.targets {
		met := "yes"
		if !t.met {
			met = "**no**"
		}
		w("| %s | %s | %s | %s |\n", t.name, strings.ReplaceAll(t.measured, "|", "/"), t.goal, met)
	}
	rep.peersMarkdown(w)
	rep.beforeMarkdown(w)
	if len(rep.extras) > 0 {
		w("\n## Slow clients and memory\n\n")
		for _, e := range rep.extras {
			w("- %s\n", e)
		}
	}
	rep.twoWorkersMarkdown(w)
	for i, ph := range pinnedPhases(cfg) {
		if i == 0 {
			w("\n## Results\n")
		} else {
			w("\n## Results with %d Python threads\n", ph.threads)
		}
		for _, a := range selectedApps(cfg) {
			if a.inRun(ph.suffix) {
				rep.resultsTable(w, a, ph)
			}
		}
	}
	return b.String()
}

// moreThreadsRun describes the run with more threads, if any.
func moreThreadsRun(cfg config) string {
	if phases := pinnedPhases(cfg); len(phases) > 1 {
		return fmt.Sprintf(", then a second run of every server with %d (not sleep) at %v connections", phases[1].threads, phases[1].conns)
	}
	return ""
}

// resultsTable writes one application's results in the pinned run ph.
func (rep *report) resultsTable(w func(string, ...any), a app, ph phase) {
	threads := a.threads
	if threads == 0 {
		threads = ph.threads
	}
	w("\n### %s\n\n| server | threads |", a.name)
	for _, c := range ph.conns {
		w(" req/s @%d |", c)
	}
	last := ph.conns[len(ph.conns)-1]
	w(" p50 @%d | p99 @%d | errors | RSS / PSS @%d | CPU server/wrk @%d |\n|---|---|", last, last, last, last)
	for range ph.conns {
		w("---:|")
	}
	w("---:|---:|---:|---:|---:|\n")
	for _, s := range selectedServers(rep.cfg) {
		if !s.serves(a.name) {
			continue
		}
		name := s.name + ph.suffix
		if f, failed := rep.failures[key{a.name, name, 0}]; failed {
			w("| %s | %s | fails: %s |\n", s.name, s.threadsLabel(threads), strings.ReplaceAll(f, "|", "/"))
			continue
		}
		measured := false
		for _, c := range ph.conns {
			if m := rep.results[key{a.name, name, c}]; m != nil && len(m.runs) > 0 {
				measured = true
			}
		}
		if !measured {
			// Started and answering right, but wrk failed every run.
			w("| %s | %s | not measured |\n", s.name, s.threadsLabel(threads))
			continue
		}
		w("| %s | %s |", s.name, s.threadsLabel(threads))
		var med result
		for _, c := range ph.conns {
			m := rep.results[key{a.name, name, c}]
			if m == nil || len(m.runs) == 0 {
				w(" – |")
				continue
			}
			med = m.median()
			w(" %.0f |", med.rps)
		}
		w(" %v | %v | %d | %.1f / %.1f MiB | %.0f%% / %.0f%% |\n", round(med.p50), round(med.p99), med.errors,
			float64(med.rss)/(1<<20), float64(med.pss)/(1<<20), 100*med.cpu, 100*med.wrkCPU)
	}
}

// heading starts a report: its title, when and where it was measured, and
// the command that made it.
func heading(w func(string, ...any), title string, started time.Time, cfg config) {
	w("# %s\n\n", title)
	w("Measured %s on %s.\n\n", started.UTC().Format("2006-01-02 15:04 UTC"), machine())
	w("Produced by this command (`make bench` installs what it needs, then runs `bench/run` with its defaults; `make bench BASELINE=COMMIT` adds an earlier build):\n\n    %s\n\n", cfg.commandRun)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func dash(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, model, _ = strings.Cut(line, ":")
				model = strings.TrimSpace(model)
				break
			}
		}
	}
	kernel := strings.TrimSpace(run("uname", "-r"))
	distro := "Linux"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				distro = strings.Trim(v, `"`)
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (%s), Linux %s", distro, runtime.NumCPU(), model, kernel)
}

func versions(cfg config) string {
	venvPython := filepath.Join(cfg.venv, "bin", "python")
	// The benchmark's virtualenv: one interpreter start for all of them.
	peers := strings.TrimSpace(run(venvPython, "-c", `import importlib.metadata as m
print(", ".join(n + " " + m.version(d) for n, d in [("Granian", "granian"), ("bjoern", "bjoern-binary"), ("fastwsgi", "fastwsgi"),
    ("pyruvate", "pyruvate"), ("gunicorn", "gunicorn"), ("waitress", "waitress"), ("Flask", "flask")]))`))
	parts := []string{
		firstLine(strings.TrimSpace(run(cfg.root+"/bin/gowsgi", "--version"))),
		"Python " + strings.TrimSpace(run(python, "-c", "import sys; print(sys.version.split()[0])")),
		"uWSGI " + strings.TrimSpace(run("uwsgi", "--version")),
		peers,
		strings.TrimSpace(run("go", "version")),
		firstLine(strings.TrimSpace(run("wrk", "-v"))),
	}
	return strings.Join(parts, ", ")
}

func run(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return string(out)
}

// twoWorkersMarkdown writes the 2-worker run: every server with two
// worker processes, nothing pinned, at the highest connection count.
func (rep *report) twoWorkersMarkdown(w func(string, ...any)) {
	cfg := rep.cfg
	conns := cfg.conns[len(cfg.conns)-1]
	header := false
	for _, a := range selectedApps(cfg) {
		base, haveBase := rep.results[key{a.name, "uwsgi-http11" + twoSuffix, conns}]
		for _, s := range selectedServers(cfg) {
			name := s.name + twoSuffix
			m := rep.results[key{a.name, name, conns}]
			f, failed := rep.failures[key{a.name, name, 0}]
			if m == nil && !failed {
				continue
			}
			if !header {
				w("\n## Two workers, unpinned\n\nEach server with 2 worker processes (same threads as above), "+
					"nothing pinned, wrk with one thread, %d connections; the ratio is to uWSGI http11 with 2 processes.\n\n"+
					"| application | server | req/s | ratio | p50 | p99 | errors | RSS / PSS | CPU server/wrk |\n"+
					"|---|---|---:|---:|---:|---:|---:|---:|---:|\n", conns)
				header = true
			}
			if failed {
				w("| %s | %s | fails: %s |\n", a.name, s.name, strings.ReplaceAll(f, "|", "/"))
				continue
			}
			if len(m.runs) == 0 {
				continue
			}
			med := m.median()
			ratio := "–"
			if haveBase && len(base.runs) > 0 {
				ratio = fmt.Sprintf("%.2f×", med.rps/base.median().rps)
			}
			w("| %s | %s | %.0f | %s | %v | %v | %d | %.1f / %.1f MiB | %.0f%% / %.0f%% |\n", a.name, s.name, med.rps, ratio,
				round(med.p50), round(med.p99), med.errors, float64(med.rss)/(1<<20), float64(med.pss)/(1<<20), 100*med.cpu, 100*med.wrkCPU)
		}
	}
}

// beforeMarkdown compares gowsgi with the earlier build run beside it, if
// any: what the change since costs or gains, application by application.
func (rep *report) beforeMarkdown(w func(string, ...any)) {
	cfg := rep.cfg
	if cfg.baseline == "" {
		return
	}
	runs := rep.peerRuns()
	w("\n## gowsgi against its earlier build\n\n")
	w("gowsgi's rate over that of %s (built from %s), run beside it in the same runs; above 1.0× the change made it faster.\n\n| application |",
		beforeName, dash(cfg.baselineName))
	for _, r := range runs {
		w(" %s |", r.title)
	}
	w("\n|---|")
	for range runs {
		w("---|")
	}
	w("\n")
	for _, a := range selectedApps(cfg) {
		w("| %s |", a.name)
		for _, r := range runs {
			now, ok1 := rep.median(a.name, "gowsgi"+r.suffix, r.conns)
			before, ok2 := rep.median(a.name, beforeName+r.suffix, r.conns)
			switch {
			case !a.inRun(r.suffix) || !ok1 || !ok2:
				w(" – |")
			case before.rps == 0:
				w(" %.0f req/s vs 0 |", now.rps)
			default:
				w(" %.2f× (%.0f vs %.0f; p99 %v vs %v) |", now.rps/before.rps, now.rps, before.rps, round(now.p99), round(before.p99))
			}
		}
		w("\n")
	}
}
