// Command harness runs gowsgi's benchmark: the same WSGI applications
// served by gowsgi and its peers (uWSGI, Granian, bjoern, fastwsgi,
// pyruvate, gunicorn and waitress; Go's net/http as the ceiling of an HTTP
// layer), one worker pinned to one CPU, loaded by wrk pinned to the other,
// in one run on one machine, with 1 and with 8 Python threads. It checks
// every answer before and after measuring and writes the results tables
// (docs/benchmarks.md).
//
// bench/run builds what it needs and runs it; see -help for the knobs.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	root     string
	servers  []string
	apps     []string
	conns    []int
	duration time.Duration
	warmup   time.Duration
	repeat   int
	threads  int
	// moreThreads is the Python threads of the second run of every
	// server (0: none).
	moreThreads int
	venv        string // the virtualenv of bench/requirements.txt
	// baseline is an earlier gowsgi binary run beside the current one
	// ("": none), baselineName what it was built from.
	baseline, baselineName string
	serverCPU              string
	clientCPU              string
	out                    string
	extras                 bool
	fileSize               int64
	commandRun             string
	twoApps                []string // applications of the 2-worker run
}

// phase is one way of running the servers: the pinned 1-worker runs the
// targets are about (with 1 and with 8 Python threads), or the unpinned
// 2-worker run.
type phase struct {
	workers int
	// threads of the applications that take the run's (all but sleep).
	threads              int
	serverCPU, clientCPU string
	conns                []int
	suffix               string // appended to server names in the results
}

// measurement is the repeated runs of one (app, server, connections).
type measurement struct {
	runs []result
}

// median is the run with the median rate, its error count the total of all
// runs and its RSS the largest seen.
func (m measurement) median() result {
	if len(m.runs) == 0 {
		return result{}
	}
	runs := append([]result(nil), m.runs...)
	sort.Slice(runs, func(i, j int) bool { return runs[i].rps < runs[j].rps })
	med := runs[len(runs)/2]
	med.errors = 0
	for _, r := range m.runs {
		med.errors += r.errors
		med.rss = max(med.rss, r.rss)
		med.pss = max(med.pss, r.pss)
	}
	return med
}

type key struct {
	app, server string
	conns       int
}

type report struct {
	cfg      config
	started  time.Time
	results  map[key]*measurement
	failures map[key]string // app/server pairs whose answer was wrong
	extras   []string       // lines of the extra measurements
	targets  []target
}

func main() {
	var cfg config
	var servers, apps, conns string
	flag.StringVar(&servers, "servers", "gowsgi,uwsgi-http11,granian,bjoern,fastwsgi,pyruvate,gunicorn-sync,gunicorn-gthread,waitress,go-net/http", "servers to compare")
	flag.StringVar(&apps, "apps", "hello,json,environ_heavy,upload,stream,big,sleep,file", "applications to run")
	flag.StringVar(&conns, "conns", "1,16,64", "wrk connection counts")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of one measured run")
	flag.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "load before measuring, per server and application")
	flag.IntVar(&cfg.repeat, "repeat", 3, "runs per measurement; the median is reported")
	flag.IntVar(&cfg.threads, "threads", 1, "Python threads of the servers that have threads (sleep always uses 64)")
	flag.IntVar(&cfg.moreThreads, "more-threads", 8, "also run every server with this many Python threads, at the lowest and highest connection counts (0: not)")
	flag.StringVar(&cfg.venv, "venv", "bin/venv-bench", "virtualenv of bench/requirements.txt: the other servers and the Flask of json, for every server")
	flag.StringVar(&cfg.baseline, "baseline", "", "an earlier gowsgi binary to run beside the current one, as "+beforeName+" (make bench BASELINE=commit builds one)")
	flag.StringVar(&cfg.baselineName, "baseline-name", "", "what the earlier binary was built from (a commit), for the report")
	flag.StringVar(&cfg.serverCPU, "server-cpu", "0", "CPU the server is pinned to (empty: not pinned)")
	flag.StringVar(&cfg.clientCPU, "client-cpu", "1", "CPU wrk is pinned to (empty: not pinned)")
	flag.StringVar(&cfg.out, "out", "", "write the Markdown report here (else only stdout)")
	flag.BoolVar(&cfg.extras, "extras", true, "also measure slow clients and memory with 1 GiB bodies")
	flag.Int64Var(&cfg.fileSize, "file-size", 100<<20, "size of the file the file application sends")
	granian := flag.Bool("granian-method", false, "instead, run Granian's own benchmark method for Granian and gowsgi (docs/granian-method.md)")
	var two string
	flag.StringVar(&two, "two-workers", "hello,json,sleep", "applications also run with 2 worker processes, unpinned, at the highest connection count (empty: none)")
	flag.Parse()
	if two != "" {
		cfg.twoApps = strings.Split(two, ",")
	}
	cfg.servers = strings.Split(servers, ",")
	cfg.apps = strings.Split(apps, ",")
	for _, c := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(c)
		if err != nil {
			log.Fatalf("-conns: %v", err)
		}
		cfg.conns = append(cfg.conns, n)
	}
	cfg.commandRun = "bench/run " + strings.Join(os.Args[1:], " ")
	wd, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	cfg.root = wd
	if _, err := os.Stat(filepath.Join(wd, "go.mod")); err != nil {
		log.Fatal("run from the repository's top directory (bench/run does)")
	}
	if cfg.venv, err = filepath.Abs(cfg.venv); err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.venv, "bin", "python")); err != nil {
		log.Fatalf("no virtualenv at %s: `make bench-venv` makes it", cfg.venv)
	}

	// Interrupted: stop the servers rather than leave them running.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		stopAll()
		os.Exit(1)
	}()
	if *granian {
		// bench/granian-method runs it so.
		var args []string
		for _, a := range os.Args[1:] {
			if a != "-granian-method" {
				args = append(args, a)
			}
		}
		cfg.commandRun = strings.TrimSpace("bench/granian-method " + strings.Join(args, " "))
		write(cfg, granianMethod(cfg))
		return
	}
	rep := &report{cfg: cfg, started: time.Now(), results: map[key]*measurement{}, failures: map[key]string{}}
	filePath := filepath.Join(os.TempDir(), "gowsgi-bench-100MiB")
	if err := makeFile(filePath, cfg.fileSize); err != nil {
		log.Fatal(err)
	}
	env := []string{"BENCH_FILE=" + filePath}
	port := 19100
	for _, ph := range pinnedPhases(cfg) {
		for _, a := range selectedApps(cfg) {
			if !a.inRun(ph.suffix) {
				continue
			}
			var list []server
			for _, s := range selectedServers(cfg) {
				if s.serves(a.name) {
					list = append(list, s)
				}
			}
			rep.measure(a, list, port, env, ph)
			port += len(list)
		}
	}
	twoWorkers := phase{workers: 2, threads: cfg.threads, conns: cfg.conns[len(cfg.conns)-1:], suffix: twoSuffix}
	for _, a := range selectedApps(cfg) {
		var list []server
		for _, s := range selectedServers(cfg) {
			if s.serves(a.name) && !s.single && slices.Contains(cfg.twoApps, a.name) {
				list = append(list, s)
			}
		}
		if len(list) > 0 {
			rep.measure(a, list, port, env, twoWorkers)
			port += len(list)
		}
	}
	if cfg.extras {
		port++
		rep.slowClients(port, env)
		port += 2
		rep.hugeBodies(port, env)
	}
	rep.evaluate()
	write(cfg, rep.markdown())
}

// write prints the report, and writes it to cfg.out if given.
func write(cfg config, text string) {
	fmt.Println(text)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", cfg.out)
	}
}

func selectedApps(cfg config) []app {
	var out []app
	for _, a := range apps(cfg.fileSize) {
		for _, name := range cfg.apps {
			if a.name == name {
				out = append(out, a)
			}
		}
	}
	return out
}

// pinnedPhases are the runs with one pinned worker: with cfg.threads
// Python threads at every connection count, then with cfg.moreThreads at
// the lowest and highest.
func pinnedPhases(cfg config) []phase {
	out := []phase{{workers: 1, threads: cfg.threads, serverCPU: cfg.serverCPU, clientCPU: cfg.clientCPU, conns: cfg.conns}}
	if cfg.moreThreads > 0 && cfg.moreThreads != cfg.threads {
		conns := []int{cfg.conns[0]}
		if last := cfg.conns[len(cfg.conns)-1]; last != conns[0] {
			conns = append(conns, last)
		}
		out = append(out, phase{workers: 1, threads: cfg.moreThreads, serverCPU: cfg.serverCPU, clientCPU: cfg.clientCPU,
			conns: conns, suffix: threadsSuffix(cfg.moreThreads)})
	}
	return out
}

// threadsSuffix marks the results of the run with n Python threads.
func threadsSuffix(n int) string { return fmt.Sprintf(" (%d threads)", n) }

func selectedServers(cfg config) []server {
	var out []server
	for _, s := range servers(cfg.root, cfg.venv, cfg.baseline) {
		for _, name := range cfg.servers {
			if s.name == name || s.name == beforeName && name == "gowsgi" {
				out = append(out, s)
			}
		}
	}
	return out
}

// twoSuffix marks the results of the 2-worker run.
const twoSuffix = " ×2"

// measure runs application a on every server at once (each pinned as ph
// says, idle but for its turn), checks their answers, warms them up, then
// runs wrk at every connection count of ph, the servers taking turns within
// each repetition so that drift of the machine's speed hits them alike.
func (rep *report) measure(a app, list []server, port int, env []string, ph phase) {
	cfg := rep.cfg
	type live struct {
		s   server
		r   *running
		url string
	}
	var up []live
	defer func() {
		for _, l := range up {
			l.r.stop()
		}
	}()
	script := ""
	if a.script != "" {
		script = filepath.Join(cfg.root, "bench", "lua", a.script)
	}
	for i, s := range list {
		log.Printf("%s / %s: starting", a.name, s.name)
		name := s.name + ph.suffix
		threads := a.threads
		if threads == 0 {
			threads = ph.threads
		}
		r, err := start(s.command(a.name, port+i, threads, ph.workers), filepath.Join(cfg.root, "bench", "apps"), ph.serverCPU, port+i, env)
		if err != nil {
			rep.failures[key{a.name, name, 0}] = "did not start: " + firstLine(err.Error())
			log.Printf("%s / %s: %v", a.name, s.name, err)
			continue
		}
		url := "http://" + addr(port+i) + "/"
		if err := a.check(url); err != nil {
			rep.failures[key{a.name, name, 0}] = err.Error() + r.logTail()
			log.Printf("%s / %s: wrong answer: %v", a.name, s.name, err)
			r.stop()
			continue
		}
		if _, err := wrkRun(ph.clientCPU, url, script, ph.conns[len(ph.conns)-1], cfg.warmup, a.wrkTimeout()); err != nil {
			log.Printf("warm-up: %v", err)
		}
		up = append(up, live{s, r, url})
	}
	for _, c := range ph.conns {
		for i := 0; i < cfg.repeat; i++ {
			for _, l := range up {
				k := key{a.name, l.s.name + ph.suffix, c}
				if rep.results[k] == nil {
					rep.results[k] = &measurement{}
				}
				memDone := make(chan [2]int64)
				go func() {
					time.Sleep(cfg.duration / 2)
					rss, pss := l.r.memory()
					memDone <- [2]int64{rss, pss}
				}()
				cpu0, t0 := l.r.cpuTime(), time.Now()
				res, err := wrkRun(ph.clientCPU, l.url, script, c, cfg.duration, a.wrkTimeout())
				res.cpu = float64(l.r.cpuTime()-cpu0) / float64(time.Since(t0))
				mem := <-memDone
				res.rss, res.pss = mem[0], mem[1]
				if err != nil {
					log.Printf("%s / %s / %d: %v", a.name, l.s.name, c, err)
					continue
				}
				rep.results[k].runs = append(rep.results[k].runs, res)
				log.Printf("%s / %s / %d conns: %.0f req/s, p50 %v, p99 %v, errors %d, RSS %d MiB, CPU server %.0f%% wrk %.0f%%",
					a.name, l.s.name+ph.suffix, c, res.rps, res.p50, res.p99, res.errors, res.rss>>20, 100*res.cpu, 100*res.wrkCPU)
			}
		}
	}
	// The answers must still be right after the load.
	for _, l := range up {
		if err := a.check(l.url); err != nil {
			rep.failures[key{a.name, l.s.name + ph.suffix, 0}] = "wrong after the load: " + err.Error() + l.r.logTail()
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
