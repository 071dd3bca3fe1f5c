package main

import (
	"fmt"
	"strings"
)

// A comparison of gowsgi with its best peer on one application, at one
// connection count, in one run (suffix: "" for the run with cfg.threads,
// threadsSuffix(n) for the one with n threads).
type peerComparison struct {
	app, suffix string
	conns       int
	gowsgi      result
	haveGowsgi  bool
	best        string // the fastest peer that answered right without errors
	bestResult  result
	// excluded lists the peers left out of the best: failed checks, or
	// errors during the load.
	excluded []string
}

// ratio is gowsgi's rate over the best peer's (0 when either is missing).
func (c peerComparison) ratio() float64 {
	if !c.haveGowsgi || c.best == "" || c.bestResult.rps <= 0 {
		return 0
	}
	return c.gowsgi.rps / c.bestResult.rps
}

// measured says what was measured, in a few words.
func (c peerComparison) measured() string {
	switch {
	case !c.haveGowsgi:
		return "gowsgi not measured"
	case c.best == "":
		return "no peer measured"
	}
	s := fmt.Sprintf("%.2f× %s (%.0f vs %.0f req/s)", c.ratio(), c.best, c.gowsgi.rps, c.bestResult.rps)
	if c.gowsgi.errors > 0 {
		s += fmt.Sprintf(", gowsgi had %d errors", c.gowsgi.errors)
	}
	return s
}

// ahead: gowsgi faster than every peer, without errors.
func (c peerComparison) ahead() bool { return c.ratio() > 1 && c.gowsgi.errors == 0 }

// level: gowsgi at least as fast as every peer, without errors.
func (c peerComparison) level() bool { return c.ratio() >= 1 && c.gowsgi.errors == 0 }

// median is the median result of an application and server (with its
// run's suffix) at conns, unless the server failed the application's
// checks.
func (rep *report) median(app, server string, conns int) (result, bool) {
	m, ok := rep.results[key{app, server, conns}]
	if !ok || len(m.runs) == 0 {
		return result{}, false
	}
	if _, failed := rep.failures[key{app, server, 0}]; failed {
		return result{}, false
	}
	return m.median(), true
}

// comparePeers finds the best peer of gowsgi: the fastest of the WSGI
// servers measured (not Go's net/http) that answered right before and
// after the load and had no errors during it.
func (rep *report) comparePeers(app, suffix string, conns int) peerComparison {
	c := peerComparison{app: app, suffix: suffix, conns: conns}
	c.gowsgi, c.haveGowsgi = rep.median(app, "gowsgi"+suffix, conns)
	for _, s := range selectedServers(rep.cfg) {
		if s.name == "gowsgi" || s.notPeer || !s.serves(app) {
			continue
		}
		name := s.name + suffix
		if f, failed := rep.failures[key{app, name, 0}]; failed {
			c.excluded = append(c.excluded, fmt.Sprintf("%s fails: %s", s.name, firstLine(f)))
			continue
		}
		r, ok := rep.median(app, name, conns)
		if !ok {
			continue
		}
		if r.errors > 0 {
			c.excluded = append(c.excluded, fmt.Sprintf("%s %.0f req/s with %d errors", s.name, r.rps, r.errors))
			continue
		}
		if c.best == "" || r.rps > c.bestResult.rps {
			c.best, c.bestResult = s.name, r
		}
	}
	return c
}

// peerRun is a column of the comparison: one connection count of one
// pinned run.
type peerRun struct {
	suffix, title string
	conns         int
}

// peerRuns are the lowest and highest connection counts of each pinned
// run.
func (rep *report) peerRuns() []peerRun {
	var out []peerRun
	for _, ph := range pinnedPhases(rep.cfg) {
		for _, c := range []int{ph.conns[0], ph.conns[len(ph.conns)-1]} {
			if len(out) > 0 && out[len(out)-1].conns == c && out[len(out)-1].suffix == ph.suffix {
				continue
			}
			out = append(out, peerRun{ph.suffix, fmt.Sprintf("%s, %s", plural(c, "connection"), plural(ph.threads, "thread")), c})
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// peerTargets adds the goal against the peers: at the highest connection
// count gowsgi ahead of every peer on every application, at the lowest at
// least level with the fastest; one target per connection count and run.
func (rep *report) peerTargets() {
	for _, run := range rep.peerRuns() {
		highest := run.conns == rep.cfg.conns[len(rep.cfg.conns)-1]
		var behind []string
		n, met := 0, 0
		for _, a := range selectedApps(rep.cfg) {
			if !a.inRun(run.suffix) {
				continue
			}
			c := rep.comparePeers(a.name, run.suffix, run.conns)
			n++
			ok := c.level()
			if highest {
				ok = c.ahead()
			}
			if ok {
				met++
			} else {
				behind = append(behind, a.name+" "+c.measured())
			}
		}
		if n == 0 {
			continue
		}
		t := target{goal: "≥ 1.0× on each", met: met == n}
		t.name = fmt.Sprintf("every application at %s: gowsgi at least level with the fastest peer", run.title)
		if highest {
			t.goal = "> 1.0× on each"
			t.name = fmt.Sprintf("every application at %s: gowsgi ahead of every peer", run.title)
		}
		t.measured = fmt.Sprintf("%d of %d", met, n)
		if len(behind) > 0 {
			t.measured += "; not on " + strings.Join(behind, "; ")
		}
		rep.targets = append(rep.targets, t)
	}
}

// peersMarkdown writes the table of gowsgi's ratio to its best peer, per
// application, at the lowest and highest connection counts of each run.
func (rep *report) peersMarkdown(w func(string, ...any)) {
	runs := rep.peerRuns()
	w("\n## gowsgi against the best peer\n\n")
	w("gowsgi's rate over the fastest peer's (Granian, bjoern, fastwsgi, pyruvate, uWSGI, gunicorn, waitress), named in each cell; " +
		"a peer that failed the checks or had errors under the load is not counted (below the table). " +
		"bjoern and fastwsgi are single-threaded and gunicorn's sync worker has no threads: their runs with more threads are the same servers run again. " +
		"The goal: ahead (> 1.0×) at the highest connection count, at least level (≥ 1.0×) at one connection; **bold** misses it.\n\n| application |")
	for _, r := range runs {
		w(" %s |", r.title)
	}
	w("\n|---|")
	for range runs {
		w("---|")
	}
	w("\n")
	var notes []string
	for _, a := range selectedApps(rep.cfg) {
		w("| %s |", a.name)
		for _, r := range runs {
			if !a.inRun(r.suffix) {
				w(" – (%d threads in every run) |", a.threads)
				continue
			}
			c := rep.comparePeers(a.name, r.suffix, r.conns)
			ok := c.level()
			if r.conns == rep.cfg.conns[len(rep.cfg.conns)-1] {
				ok = c.ahead()
			}
			cell := c.measured()
			if !ok {
				cell = "**" + cell + "**"
			}
			w(" %s |", cell)
			for _, e := range c.excluded {
				notes = append(notes, fmt.Sprintf("%s at %s: %s", a.name, r.title, e))
			}
		}
		w("\n")
	}
	if len(notes) > 0 {
		w("\nNot counted as best peer:\n\n")
		for _, n := range notes {
			w("- %s\n", strings.ReplaceAll(n, "|", "/"))
		}
	}
}
