package main

import (
	"strings"
	"testing"
	"time"
)

// wrk 4.1's report of a run, as the harness reads it.
const wrkOutput = `Running 10s test @ http://127.0.0.1:19000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.80ms    1.02ms  20.11ms   90.12%
    Req/Sec     9.40k   300.00     9.80k    70.00%
  Latency Distribution
     50%    6.73ms
     75%    7.10ms
     90%    7.60ms
     99%    8.69ms
  94102 requests in 10.03s, 95.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   9382.10
Transfer/sec:      9.48MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := result{rps: 9382.10, avg: 6800 * time.Microsecond, p50: 6730 * time.Microsecond,
		p99: 8690 * time.Microsecond, errors: 7, requests: 94102}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
	if _, err := parseWrk("unable to connect"); err == nil {
		t.Error("parseWrk accepted output without a rate")
	}
}

// targetsOf evaluates runs at 64 connections, one run per app and server.
func targetsOf(runs map[[2]string]result) map[string]target {
	rep := &report{cfg: config{conns: []int{64}}, results: map[key]*measurement{}, failures: map[key]string{}}
	for k, r := range runs {
		rep.results[key{k[0], k[1], 64}] = &measurement{runs: []result{r}}
	}
	rep.evaluate()
	byName := map[string]target{}
	for _, t := range rep.targets {
		byName[t.name] = t
	}
	return byName
}

// Connections served is Little's law on json, where the server is the
// bottleneck; hello's figure, skewed by a saturated wrk, plays no part.
func TestConnectionsServedOnJSON(t *testing.T) {
	const name = "json: connections served (req/s × mean latency / 64)"
	skewedHello := result{rps: 75000, avg: 1200 * time.Microsecond} // 1.41
	for _, c := range []struct {
		gowsgi time.Duration
		met    bool
	}{{6800 * time.Microsecond, true}, {700 * time.Microsecond, false}} {
		got := targetsOf(map[[2]string]result{
			{"hello", "gowsgi"}:       skewedHello,
			{"json", "gowsgi"}:        {rps: 9400, avg: c.gowsgi, wrkCPU: 0.17},
			{"json", "uwsgi-http11"}:  {rps: 7700, avg: 120 * time.Microsecond},
			{"hello", "uwsgi-http11"}: {rps: 24000, avg: 40 * time.Microsecond},
		})[name]
		if got.met != c.met {
			t.Errorf("json mean latency %v: met %v, want %v (%s)", c.gowsgi, got.met, c.met, got.measured)
		}
		if !strings.Contains(got.measured, "wrk at 17% CPU") || !strings.Contains(got.measured, "uwsgi-http11 0.01") {
			t.Errorf("measured %q: want wrk's CPU and uWSGI's figure", got.measured)
		}
	}
	if _, ok := targetsOf(map[[2]string]result{{"hello", "gowsgi"}: skewedHello})[name]; ok {
		t.Error("connections served judged without a json run")
	}
}

func TestRateChange(t *testing.T) {
	for cost, want := range map[float64]string{0.011: "1.1% slower", -0.165: "16.5% faster", 0: "0.0% slower"} {
		if got := rateChange(cost); got != want {
			t.Errorf("rateChange(%v) = %q, want %q", cost, got, want)
		}
	}
}
