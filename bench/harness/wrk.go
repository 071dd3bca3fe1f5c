package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// result is one wrk run.
type result struct {
	rps      float64
	avg      time.Duration // mean latency
	p50, p99 time.Duration
	errors   int64 // socket errors and non-2xx answers
	requests int64
	rss, pss int64   // server memory sampled during the run (see running.memory)
	cpu      float64 // share of one CPU the server used during the run
	wrkCPU   float64 // share of one CPU wrk used
}

// wrkRun runs wrk pinned to cpu against url.
func wrkRun(cpu, url, script string, conns int, d, timeout time.Duration) (result, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + fmt.Sprintf("%ds", int(d.Seconds())), "--latency",
		"--timeout", fmt.Sprintf("%ds", int(timeout.Seconds()))}
	if script != "" {
		args = append(args, "-s", script)
	}
	args = append(args, url)
	if cpu != "" {
		args = append([]string{"-c", cpu, "wrk"}, args...)
	}
	name := "wrk"
	if cpu != "" {
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r, err := parseWrk(string(out))
	ps := cmd.ProcessState
	r.wrkCPU = float64(ps.UserTime()+ps.SystemTime()) / float64(time.Since(start))
	return r, err
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLatency = regexp.MustCompile(`Latency\s+([\d.]+\w+)`)
	reP       = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+\w+)`)
	reSocket  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reTotal   = regexp.MustCompile(`(\d+) requests in`)
)

func parseWrk(out string) (result, error) {
	var r result
	m := reRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reLatency.FindStringSubmatch(out); m != nil {
		r.avg = parseDur(m[1])
	}
	for _, m := range reP.FindAllStringSubmatch(out, -1) {
		if m[1] == "50" {
			r.p50 = parseDur(m[2])
		} else {
			r.p99 = parseDur(m[2])
		}
	}
	if m := reSocket.FindStringSubmatch(out); m != nil {
		for _, n := range m[1:] {
			v, _ := strconv.ParseInt(n, 10, 64)
			r.errors += v
		}
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += v
	}
	if m := reTotal.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// parseDur reads wrk's durations: 1.23ms, 456.00us, 2.01s, 1.5m.
func parseDur(s string) time.Duration {
	s = strings.TrimSpace(s)
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}} {
		if strings.HasSuffix(s, unit.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, unit.suffix), 64)
			if err != nil {
				return 0
			}
			return time.Duration(v * float64(unit.d))
		}
	}
	return 0
}
