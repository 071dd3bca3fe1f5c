package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const slowClients = 1000

// slowClients measures hello with and without 1,000 connections that send
// one byte of a never-ending header per second.
func (rep *report) slowClients(port int, env []string) {
	cfg := rep.cfg
	for _, name := range []string{"gowsgi", "uwsgi-http11"} {
		s, ok := findServer(cfg, name)
		if !ok {
			continue
		}
		port++
		r, err := start(s.command("hello", port, cfg.threads, 1), filepath.Join(cfg.root, "bench", "apps"), cfg.serverCPU, port, env)
		if err != nil {
			rep.extras = append(rep.extras, fmt.Sprintf("slow clients / %s: did not start: %v", name, firstLine(err.Error())))
			continue
		}
		url := "http://" + addr(port) + "/"
		wrkRun(cfg.clientCPU, url, "", 64, cfg.warmup, 10*time.Second)
		base := rep.repeated(url, 64)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < slowClients; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); slowClient(addr(port), stop) }()
		}
		time.Sleep(3 * time.Second) // all connected and trickling
		loaded := rep.repeated(url, 64)
		checkErr := expectBody("Hello, world!")(url)
		close(stop)
		wg.Wait()
		r.stop()
		cost := 1 - loaded.rps/base.rps
		line := fmt.Sprintf("%s: hello at 64 connections %.0f req/s alone, %.0f req/s beside %d slow clients (%s); errors %d",
			name, base.rps, loaded.rps, slowClients, rateChange(cost), loaded.errors)
		if checkErr != nil {
			line += "; answer during the load: " + checkErr.Error()
		}
		rep.extras = append(rep.extras, line)
		log.Print(line)
		if name == "gowsgi" {
			rep.targets = append(rep.targets, target{
				name:     "slow clients: hello's rate beside 1,000 one-byte-a-second connections",
				measured: fmt.Sprintf("%s, %d errors", rateChange(cost), loaded.errors),
				goal:     "< 10% slower, no errors",
				met:      cost < 0.10 && loaded.errors == 0 && checkErr == nil,
			})
		}
	}
}

// repeated is the median of cfg.repeat wrk runs.
func (rep *report) repeated(url string, conns int) result {
	var m measurement
	for i := 0; i < rep.cfg.repeat; i++ {
		res, err := wrkRun(rep.cfg.clientCPU, url, "", conns, rep.cfg.duration, 10*time.Second)
		if err == nil {
			m.runs = append(m.runs, res)
		}
	}
	return m.median()
}

// slowClient sends a header one byte a second until stop, reconnecting
// when the server cuts it off.
func slowClient(address string, stop chan struct{}) {
	for {
		// A server that stops accepting (uWSGI here) leaves dials hanging
		// for minutes without a timeout.
		c, err := net.DialTimeout("tcp", address, 2*time.Second)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		msg := "GET / HTTP/1.1\r\nHost: bench\r\nX-Slow: "
		for i := 0; ; i++ {
			b := byte('a')
			if i < len(msg) {
				b = msg[i]
			}
			if _, err := c.Write([]byte{b}); err != nil {
				break
			}
			select {
			case <-stop:
				c.Close()
				return
			case <-time.After(time.Second):
			}
		}
		c.Close()
	}
}

// hugeBodies measures gowsgi's peak memory while a 1 GiB generator
// response and a 1 GiB upload pass through it.
func (rep *report) hugeBodies(port int, env []string) {
	cfg := rep.cfg
	s, ok := findServer(cfg, "gowsgi")
	if !ok {
		return
	}
	for _, c := range []struct {
		app, what string
		run       func(url string) (int64, error)
	}{
		{"big_stream", "a 1 GiB generator response", download},
		{"upload", "a 1 GiB upload", upload},
	} {
		port++
		r, err := start(s.command(c.app, port, cfg.threads, 1), filepath.Join(cfg.root, "bench", "apps"), cfg.serverCPU, port, env)
		if err != nil {
			rep.extras = append(rep.extras, "memory: "+err.Error())
			continue
		}
		url := "http://" + addr(port) + "/"
		warm := url + "?4"
		if c.app == "upload" {
			warm = url
		}
		c.run(warm)
		pid := r.worker()
		status := fmt.Sprintf("/proc/%d/status", pid)
		idle := procKB(status, "VmRSS:")
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) // resets VmHWM
		n, err := c.run(url + "?1024")
		peak := procKB(status, "VmHWM:")
		r.stop()
		rise := peak - idle
		line := fmt.Sprintf("gowsgi, %s: the worker's idle RSS %.1f MiB, peak %.1f MiB (+%.1f MiB), %d bytes", c.what,
			float64(idle)/(1<<20), float64(peak)/(1<<20), float64(rise)/(1<<20), n)
		if err != nil {
			line += ", error: " + err.Error()
		}
		rep.extras = append(rep.extras, line)
		log.Print(line)
		rep.targets = append(rep.targets, target{
			name:     "memory: " + c.what + " raises RSS above idle by",
			measured: fmt.Sprintf("%.1f MiB", float64(rise)/(1<<20)),
			goal:     "≤ 16 MiB",
			met:      err == nil && n == 1<<30 && rise <= 16<<20,
		})
	}
}

func download(url string) (int64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func upload(url string) (int64, error) {
	size := int64(1 << 30)
	if len(url) > 0 && url[len(url)-1] == '/' {
		size = 4 << 20 // the warm-up
	}
	req, _ := http.NewRequest("POST", url, io.LimitReader(zeros{}, size))
	req.ContentLength = size
	_, body, err := get(req)
	if err == nil && string(body) != fmt.Sprint(size) {
		err = fmt.Errorf("the application read %s bytes", body)
	}
	return size, err
}

func findServer(cfg config, name string) (server, bool) {
	for _, s := range selectedServers(cfg) {
		if s.name == name {
			return s, true
		}
	}
	return server{}, false
}

// rateChange words the rate beside the slow clients against the rate
// alone, given as the share lost; a negative one (a faster run beside
// them) is the machine's noise between runs.
func rateChange(cost float64) string {
	if cost < 0 {
		return fmt.Sprintf("%.1f%% faster", -100*cost)
	}
	return fmt.Sprintf("%.1f%% slower", 100*cost)
}
