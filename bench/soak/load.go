// `soak load`: the soak's clients alone, against a server someone else
// runs (scripts/two-hosts: nginx in front of two gowsgi hosts). Every
// failed request is written to a file with its X-Request-Id, so that the
// caller can find it in the front server's log.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func loadMain(args []string) int {
	fs := flag.NewFlagSet("soak load", flag.ExitOnError)
	addr := fs.String("addr", "", "HOST:PORT to send the load to")
	duration := fs.Duration("duration", time.Minute, "how long the load runs (SIGTERM or SIGINT end it sooner)")
	failuresPath := fs.String("failures", "", "write each failed request here: id, kind, start and end (Unix ms), error")
	clients, think := clientFlags(fs)
	fs.Parse(args)
	counts, err := parseClients(*clients)
	if err != nil || *addr == "" {
		fmt.Fprintln(os.Stderr, "soak load: -addr HOST:PORT is needed;", err)
		return 2
	}
	rec := newRecorder()
	stop := make(chan struct{})
	var running sync.WaitGroup
	n := 0
	for _, kind := range kindOrder {
		for i := 0; i < counts[kind]; i++ {
			cl := &client{name: fmt.Sprintf("%s%d", kind, i), kind: kind, addr: *addr, host: *addr,
				think: *think, rng: rand.New(rand.NewPCG(uint64(n), 11)), rec: rec}
			n++
			running.Add(1)
			go func() { defer running.Done(); cl.run(stop) }()
		}
	}
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	select {
	case <-time.After(*duration):
	case <-interrupted:
	}
	close(stop)
	running.Wait()

	ok, failed, failures := rec.snapshot()
	var lines []string
	totalOK := 0
	for _, k := range kindOrder {
		totalOK += ok[k]
		if counts[k] > 0 {
			lines = append(lines, fmt.Sprintf("  %-9s %8d answered %5d failed", k, ok[k], failed[k]))
		}
	}
	fmt.Printf("load: %d answered, %d failed\n%s\n", totalOK, len(failures), strings.Join(lines, "\n"))
	if *failuresPath != "" {
		f, err := os.Create(*failuresPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for _, r := range failures {
			fmt.Fprintf(f, "%s\t%s\t%d\t%d\t%v\n", r.id, r.kind, r.start.UnixMilli(), r.end.UnixMilli(), r.err)
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	return 0
}
