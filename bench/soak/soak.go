// The soak itself: gowsgi under the mixed load, HUP and kill -9 on a
// schedule, /proc sampled throughout, and the verdict.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type soakConfig struct {
	binary, appDir, logPath string
	duration, settle        time.Duration
	hup, kill               time.Duration
	sample, warmup          time.Duration
	judgeAfter              time.Duration
	workers, threads        int
	clients                 map[string]int
	think                   time.Duration
	maxWorkerSlope          float64
	maxMasterSlope          float64
	maxFdGrowth             int
}

// A kill is one worker killed with SIGKILL and the client connections it
// held then: each of them may lose the request in flight on it (or, if it
// was between two, the next one sent on it).
type kill struct {
	pid   int
	at    time.Time
	ports map[int]bool
}

func soakMain(args []string) int {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	var c soakConfig
	fs.StringVar(&c.binary, "gowsgi", "bin/gowsgi", "the gowsgi binary")
	fs.StringVar(&c.appDir, "app", "bench/soak", "directory of soak_app.py")
	fs.StringVar(&c.logPath, "log", "bin/soak-gowsgi.log", "gowsgi's log")
	fs.DurationVar(&c.duration, "duration", 30*time.Minute, "how long the load runs")
	fs.DurationVar(&c.hup, "hup", 2*time.Minute, "send HUP to the master this often (0: never)")
	fs.DurationVar(&c.kill, "kill", 5*time.Minute, "kill -9 one worker this often (0: never)")
	fs.DurationVar(&c.settle, "settle", 20*time.Second, "the load goes on this long after -duration, without HUP or kill, so that the last one's effects are seen")
	fs.DurationVar(&c.sample, "sample", 2*time.Second, "read memory and descriptors from /proc this often")
	fs.DurationVar(&c.warmup, "warmup", 30*time.Second, "a process's first moments, left out of its memory slope")
	fs.IntVar(&c.workers, "workers", 2, "gowsgi --workers")
	fs.IntVar(&c.threads, "threads", 4, "gowsgi --threads")
	fs.Float64Var(&c.maxWorkerSlope, "max-worker-slope", 60, "largest RSS slope of a worker seen for -judge-after after its warm-up, MB/hour")
	fs.DurationVar(&c.judgeAfter, "judge-after", 0,
		"a worker's RSS slope is bounded when it lived this long past its warm-up: a younger one still grows to its working set "+
			"(0: half of -duration)")
	fs.Float64Var(&c.maxMasterSlope, "max-master-slope", 20, "largest RSS slope of the master, MB/hour")
	fs.IntVar(&c.maxFdGrowth, "max-fd-growth", 0, "descriptors (other than connections) a process may gain over the run")
	clients, think := clientFlags(fs)
	fs.Parse(args)
	var err error
	if c.clients, err = parseClients(*clients); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c.think = *think
	if c.judgeAfter == 0 {
		c.judgeAfter = c.duration / 2
	}
	return soak(c)
}

// series is one process's samples.
type series struct {
	pid     int
	samples []sample
}

type soakRun struct {
	cfg     soakConfig
	srv     *server
	rec     *recorder
	start   time.Time
	mu      sync.Mutex
	procs   map[int]*series // by PID; the master's too
	kills   []kill
	hups    int
	nclient int
	// tracebacks counts the application errors in gowsgi's log: the soak's
	// application raises none.
	tracebacks int
}

func soak(c soakConfig) int {
	if err := os.MkdirAll(filepath.Dir(c.logPath), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log, err := os.Create(c.logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer log.Close()
	app, err := filepath.Abs(c.appDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv, err := startServer(c.binary, log, "-w", fmt.Sprint(c.workers), "--threads", fmt.Sprint(c.threads),
		"--chdir", app, "soak_app:application")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err, "("+c.logPath+")")
		return 2
	}
	r := &soakRun{cfg: c, srv: srv, rec: newRecorder(), procs: map[int]*series{}}
	if err := srv.waitWorkers(c.workers, time.Minute); err != nil {
		srv.stop(40 * time.Second)
		fmt.Fprintln(os.Stderr, "soak:", err, "("+c.logPath+")")
		return 2
	}
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupted)

	fmt.Printf("soak: gowsgi %s (master %d) -w %d --threads %d, %v of load (and %v more), HUP every %v, kill -9 every %v; log %s\n",
		srv.addr, srv.master, c.workers, c.threads, c.duration, c.settle, c.hup, c.kill, c.logPath)
	r.start = time.Now()
	stop := make(chan struct{})
	var running sync.WaitGroup
	for _, kind := range kindOrder {
		for i := 0; i < c.clients[kind]; i++ {
			cl := &client{name: fmt.Sprintf("%s%d", kind, i), kind: kind, addr: srv.addr, host: srv.addr,
				think: c.think, rng: rand.New(rand.NewPCG(uint64(r.nclient), 7)), rec: r.rec}
			r.nclient++
			running.Add(1)
			go func() { defer running.Done(); cl.run(stop) }()
		}
	}
	r.sampleAll()
	every := func(d time.Duration) <-chan time.Time {
		if d <= 0 {
			return nil
		}
		return time.NewTicker(d).C
	}
	hupC, killC, sampleC, progressC := every(c.hup), every(c.kill), every(c.sample), every(time.Minute)
	end, settle := time.After(c.duration+c.settle), time.After(c.duration)
	result := 0
loop:
	for {
		select {
		case <-hupC:
			syscall.Kill(srv.master, syscall.SIGHUP)
			r.mu.Lock()
			r.hups++
			r.mu.Unlock()
			r.event("HUP to the master")
		case <-killC:
			r.killOne()
		case <-sampleC:
			r.sampleAll()
		case <-progressC:
			ok, failed := r.rec.totals()
			r.event(fmt.Sprintf("%d answers, %d failed, workers %v", ok, failed, workers(srv.master)))
		case <-srv.exited:
			fmt.Println("soak: the master exited during the run")
			result = 1
			break loop
		case s := <-interrupted:
			fmt.Println("soak: interrupted by", s)
			result = 2
			break loop
		case <-settle:
			hupC, killC = nil, nil
			r.event(fmt.Sprintf("no more HUP or kill; the load goes on for %v", c.settle))
		case <-end:
			break loop
		}
	}
	close(stop)
	running.Wait()
	r.sampleAll()
	graceful := srv.stop(40 * time.Second)
	if !graceful && result == 0 {
		fmt.Println("soak: gowsgi did not stop within 40 s of TERM; killed")
		result = 1
	}
	logged, _ := os.ReadFile(c.logPath)
	r.tracebacks = strings.Count(string(logged), "Traceback (most recent call last)")
	if verdict := r.report(); result == 0 {
		result = verdict
	}
	return result
}

func (r *soakRun) event(what string) {
	el := time.Since(r.start).Round(time.Second)
	fmt.Printf("%8v  %s\n", el, what)
}

// killOne stops a worker that serves (SIGSTOP: it accepts nothing more),
// notes the client connections it holds, and kills it with SIGKILL.
func (r *soakRun) killOne() {
	current := workers(r.srv.master)
	for _, pid := range r.rec.serving(time.Now().Add(-2 * time.Second)) {
		if !contains(current, pid) {
			continue
		}
		syscall.Kill(pid, syscall.SIGSTOP)
		sockets, _, _ := fds(pid)
		ports := clientPorts(sockets, r.srv.port)
		at := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		r.mu.Lock()
		r.kills = append(r.kills, kill{pid: pid, at: at, ports: ports})
		r.mu.Unlock()
		r.event(fmt.Sprintf("kill -9 worker %d (holding %d client connections)", pid, len(ports)))
		return
	}
	r.event("kill -9 skipped: no worker answered in the last 2 s")
}

func contains(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

// sampleAll reads the master's and every worker's memory and descriptors.
func (r *soakRun) sampleAll() {
	pids := append([]int{r.srv.master}, workers(r.srv.master)...)
	r.srv.remember(pids[1:])
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pid := range pids {
		rss, ok := rssMB(pid)
		sockets, others, ok2 := fds(pid)
		if !ok || !ok2 {
			continue
		}
		s := r.procs[pid]
		if s == nil {
			s = &series{pid: pid}
			r.procs[pid] = s
		}
		s.samples = append(s.samples, sample{at: time.Now(), rss: rss, sockets: len(sockets), others: others})
	}
}

// attribute splits the failures: those on a connection a killed worker
// held when it was killed (the first failure of each such connection after
// the kill), and the others, which a server must not have.
func (r *soakRun) attribute(failures []result) (onKilled, others []result) {
	used := map[string]bool{}
	for _, f := range failures {
		blamed := false
		for i, k := range r.kills {
			key := fmt.Sprint(i, "/", f.port)
			// A request lasts at most a minute (the client's deadline).
			if f.port == 0 || f.end.Before(k.at) || f.end.After(k.at.Add(70*time.Second)) || used[key] {
				continue
			}
			if k.ports[f.port] || f.pid == k.pid {
				used[key], blamed = true, true
				break
			}
		}
		if blamed {
			onKilled = append(onKilled, f)
		} else {
			others = append(others, f)
		}
	}
	return onKilled, others
}

// floor is the fewest non-socket descriptors among samples.
func floor(samples []sample) int {
	m := samples[0].others
	for _, s := range samples {
		m = min(m, s.others)
	}
	return m
}

// report prints the summary and returns 1 if a bound failed.
func (r *soakRun) report() int {
	c := r.cfg
	ok, failed, failures := r.rec.snapshot()
	onKilled, others := r.attribute(failures)
	var problems []string
	held := 0
	for _, k := range r.kills {
		held += len(k.ports)
	}
	totalOK, totalFailed := 0, 0
	for _, k := range kindOrder {
		totalOK += ok[k]
		totalFailed += failed[k]
	}
	elapsed := time.Since(r.start).Round(time.Second)
	fmt.Printf("\nsoak summary: %v, %d clients, %d HUP, %d kill -9\n", elapsed, r.nclient, r.hups, len(r.kills))
	fmt.Printf("requests: %d answered, %d failed: %d on the %d connections killed workers held, %d others\n",
		totalOK, totalFailed, len(onKilled), held, len(others))
	for _, k := range kindOrder {
		if c.clients[k] > 0 {
			fmt.Printf("  %-9s %8d answered %5d failed\n", k, ok[k], failed[k])
		}
	}
	if len(others) > 0 {
		problems = append(problems, fmt.Sprintf("%d failed requests beyond those on killed workers' connections", len(others)))
		fmt.Println("failed requests beyond the killed workers' (time since start, kind, connection, worker that served it before):")
		for i, f := range others {
			if i == 30 {
				fmt.Printf("  ... %d more\n", len(others)-30)
				break
			}
			fmt.Printf("  %8v %-9s :%-5d worker %-7d %v\n", f.end.Sub(r.start).Round(time.Millisecond), f.kind, f.port, f.pid, f.err)
		}
	}
	if len(onKilled) > 0 {
		fmt.Println("failed on killed workers' connections:")
		for _, f := range onKilled {
			fmt.Printf("  %8v %-9s :%-5d %v\n", f.end.Sub(r.start).Round(time.Millisecond), f.kind, f.port, f.err)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	var pids []int
	for pid := range r.procs {
		if pid != r.srv.master {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	fmt.Printf("workers (%d seen): RSS slope after a %v warm-up, descriptors (sockets apart)\n", len(pids), c.warmup)
	var slopes []float64
	judgedWorkers := 0
	maxSockets := r.nclient + 8 // the clients, the listener, the master's pipe and a margin
	for _, pid := range pids {
		s := r.procs[pid].samples
		var kept []sample
		for _, x := range s {
			if x.at.Sub(s[0].at) >= c.warmup {
				kept = append(kept, x)
			}
		}
		if len(kept) < 10 {
			fmt.Printf("  %-7d %3d samples over %v: too short a life for a slope\n", pid, len(s), s[len(s)-1].at.Sub(s[0].at).Round(time.Second))
			continue
		}
		slope := slopePerHour(kept)
		slopes = append(slopes, slope)
		third := max(1, len(kept)/3)
		growth := floor(kept[len(kept)-third:]) - floor(kept[:third])
		lo, hi, sockets := kept[0].rss, kept[0].rss, 0
		for _, x := range kept {
			lo, hi, sockets = min(lo, x.rss), max(hi, x.rss), max(sockets, x.sockets)
		}
		judged := kept[len(kept)-1].at.Sub(kept[0].at) >= c.judgeAfter
		note := ""
		if !judged {
			note = " (not judged: younger than -judge-after)"
		}
		fmt.Printf("  %-7d %3d samples over %-6v RSS %.1f..%.1f MB, slope %+6.1f MB/h%s; other fds %d..%d (floor %+d); sockets up to %d\n",
			pid, len(kept), kept[len(kept)-1].at.Sub(kept[0].at).Round(time.Second), lo, hi, slope, note,
			floor(kept), maxOthers(kept), growth, sockets)
		// A young worker's memory still grows to its working set (a
		// worker of the HUP-every-2-minutes run grows 2 to 3 MB in its
		// 90 s, then, living on, less than 1 MB an hour): the bound
		// applies to workers seen for -judge-after past the warm-up.
		if judged {
			judgedWorkers++
		}
		if slope > c.maxWorkerSlope && judged {
			problems = append(problems, fmt.Sprintf("worker %d: RSS slope %.1f MB/h > %.0f", pid, slope, c.maxWorkerSlope))
		}
		if growth > c.maxFdGrowth {
			problems = append(problems, fmt.Sprintf("worker %d: %d more descriptors at the end of its life", pid, growth))
		}
		if sockets > maxSockets {
			problems = append(problems, fmt.Sprintf("worker %d: %d sockets for %d clients", pid, sockets, r.nclient))
		}
	}
	if len(slopes) > 0 {
		sort.Float64s(slopes)
		fmt.Printf("  worker slopes: median %+.1f MB/h, largest %+.1f MB/h; %d worker(s) lived %v past the warm-up, "+
			"their slopes bounded by %.0f MB/h\n",
			slopes[len(slopes)/2], slopes[len(slopes)-1], judgedWorkers, c.judgeAfter, c.maxWorkerSlope)
	}
	if m := r.procs[r.srv.master]; m != nil && len(m.samples) > 1 {
		s := m.samples
		var kept []sample
		for _, x := range s {
			if x.at.Sub(s[0].at) >= c.warmup {
				kept = append(kept, x)
			}
		}
		if len(kept) >= 10 {
			slope := slopePerHour(kept)
			fifth := max(1, len(kept)/5)
			growth := floor(kept[len(kept)-fifth:]) - floor(kept[:fifth])
			sockets := 0
			for _, x := range kept {
				sockets = max(sockets, x.sockets)
			}
			fmt.Printf("master %d: %d samples, RSS %.1f -> %.1f MB, slope %+.1f MB/h (bound %.0f); other fds floor %d at the start, %d at the end; sockets up to %d\n",
				r.srv.master, len(kept), kept[0].rss, kept[len(kept)-1].rss, slope, c.maxMasterSlope,
				floor(kept[:fifth]), floor(kept[len(kept)-fifth:]), sockets)
			if slope > c.maxMasterSlope {
				problems = append(problems, fmt.Sprintf("master: RSS slope %.1f MB/h > %.0f", slope, c.maxMasterSlope))
			}
			if growth > c.maxFdGrowth {
				problems = append(problems, fmt.Sprintf("master: %d more descriptors at the end", growth))
			}
		}
	}
	fmt.Printf("gowsgi's log (%s): %d tracebacks\n", c.logPath, r.tracebacks)
	if r.tracebacks > 0 {
		problems = append(problems, fmt.Sprintf("%d tracebacks in gowsgi's log", r.tracebacks))
	}
	if len(problems) > 0 {
		fmt.Println("FAIL:\n  " + strings.Join(problems, "\n  "))
		return 1
	}
	fmt.Println("PASS")
	return 0
}

func maxOthers(samples []sample) int {
	m := 0
	for _, s := range samples {
		m = max(m, s.others)
	}
	return m
}
