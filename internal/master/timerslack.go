package master

import (
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// envTimerSlack carries, to a worker started with a monitor slack, the
// timer slack its threads that run Python should have: the master's own
// (Worker.PythonTimerSlack).
const envTimerSlack = "_GOWSGI_TIMERSLACK"

// startWithSlack starts cmd with the given timer slack, which every thread
// of the new process inherits, the Go runtime's monitor thread (sysmon)
// among them. That thread sleeps 20 µs between its rounds while a
// goroutine is in a C call, and takes the processor (P) from a thread that
// stayed in C for two rounds: with one Python thread, that is nearly every
// request of a view that runs 100 µs, and each time costs a handful of
// thread switches and the monitor's own wake-ups, some 30% of the
// throughput of a small Flask view on one CPU. With a coarser slack the
// monitor's rounds last about slack+20 µs, so Python calls shorter than
// that keep their P.
func startWithSlack(cmd *exec.Cmd, slack time.Duration) error {
	if slack <= 0 {
		return cmd.Start()
	}
	runtime.LockOSThread() // the process is cloned from this thread
	defer runtime.UnlockOSThread()
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0) != nil {
		return cmd.Start()
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(own), 0, 0, 0)
	cmd.Env = append(cmd.Env, envTimerSlack+"="+strconv.Itoa(own))
	return cmd.Start()
}
