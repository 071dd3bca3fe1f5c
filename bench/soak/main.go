// Command soak runs gowsgi under a mixed load for a long time, reloading
// it (HUP) and killing a worker (kill -9) on a schedule, and checks what a
// production server must keep: no failed request beyond those on the
// connections of killed workers, worker and master memory flat, no
// descriptor growth. `make soak` runs it; docs/reliability.md has a run.
//
// `soak load -url URL` sends only the load (to a front server, as
// scripts/two-hosts does) and writes its failures to a file.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		os.Exit(loadMain(os.Args[2:]))
	}
	os.Exit(soakMain(os.Args[1:]))
}

// parseClients reads "hello=4,flask=2,...": how many clients of each kind.
func parseClients(s string) (map[string]int, error) {
	counts := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(part), "=")
		count, err := strconv.Atoi(n)
		if _, known := kinds[name]; !ok || !known || err != nil || count < 0 {
			return nil, fmt.Errorf("-clients: %q is not KIND=N with KIND one of hello, flask, upload, stream, slowsend, slowread", part)
		}
		counts[name] = count
	}
	return counts, nil
}

// kindOrder is the order kinds are reported in.
var kindOrder = []string{"hello", "flask", "upload", "stream", "slowsend", "slowread"}

const defaultClients = "hello=4,flask=2,upload=2,stream=2,slowsend=2,slowread=2"

func clientFlags(fs *flag.FlagSet) (clients *string, think *time.Duration) {
	clients = fs.String("clients", defaultClients, "clients of each kind, each on its own kept-alive connection")
	think = fs.Duration("think", 10*time.Millisecond, "a client waits up to this long (at random) between requests")
	return clients, think
}
