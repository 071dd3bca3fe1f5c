package gowsgi

// #include "gowsgi.h"
import "C"

import (
	"os"
	"strconv"
)

// envTimerSlack is set in a worker the master started with a coarse timer
// slack (internal/master/timerslack.go): every thread of the worker
// inherited that slack, which keeps the Go runtime's monitor from taking
// the processor away from short Python calls. Python code must not see
// it: time.sleep, select and socket timeouts would last up to a slack
// longer. Each thread that runs Python gets back the slack the variable
// carries (the master's own) before its first Python call; threads the
// application starts inherit it from them.
const envTimerSlack = "_GOWSGI_TIMERSLACK"

// takeTimerSlack reads the slack for Python threads, and hides the
// variable from the application and its subprocesses.
func takeTimerSlack() {
	v, ok := os.LookupEnv(envTimerSlack)
	if !ok {
		return
	}
	os.Unsetenv(envTimerSlack)
	if ns, err := strconv.ParseUint(v, 10, 64); err == nil && ns > 0 {
		C.gw_python_timer_slack = C.ulong(ns)
	}
}
