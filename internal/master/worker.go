package master

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/balance"
)

// envWorker marks a worker process: "ID:SOCKETS:WORKERS". Its sockets are
// descriptors 3 to 3+SOCKETS-1 and its status pipe to the master the next
// descriptor.
const envWorker = "_GOWSGI_WORKER"

// envBalance gives a worker its seat on the master's balance board:
// "SLOT:FILES", the board's descriptors following the status pipe.
const envBalance = "_GOWSGI_BALANCE"

// Messages on the status pipe, one a line.
const (
	msgReady   = "ready"
	msgRecycle = "recycle" // followed by the reason
	msgAlive   = "alive"
)

const heartbeatEvery = time.Second

// Worker is a worker process's side of its link to the master.
type Worker struct {
	ID      int
	Workers int        // how many workers the master runs
	Sockets []*os.File // the listening sockets, in --bind order
	// PythonTimerSlack is the timer slack the threads that run Python
	// must get back when the worker was started with a monitor slack
	// (Config.MonitorSlack); 0 otherwise.
	PythonTimerSlack time.Duration
	// BoardErr says why the worker has no seat on the master's balance
	// board although the master gave it one: it then takes every
	// connection it is woken for, and the others do not wait for it.
	BoardErr error

	mu   sync.Mutex
	pipe *os.File
}

// InWorker returns this process's link to its master, or nil if the
// process is not a worker.
func InWorker() (*Worker, error) {
	spec, ok := os.LookupEnv(envWorker)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(envWorker) // not for the application's subprocesses
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed %s=%q", envWorker, spec)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("malformed %s=%q", envWorker, spec)
		}
		n[i] = v
	}
	w := &Worker{ID: n[0], Workers: n[2]}
	for i := 0; i < n[1]; i++ {
		w.Sockets = append(w.Sockets, os.NewFile(uintptr(3+i), fmt.Sprintf("socket %d", i)))
	}
	w.pipe = os.NewFile(uintptr(3+n[1]), "master")
	w.BoardErr = joinBoard(3 + n[1] + 1)
	if v, ok := os.LookupEnv(envTimerSlack); ok {
		os.Unsetenv(envTimerSlack)
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil && ns > 0 {
			w.PythonTimerSlack = time.Duration(ns)
		}
	}
	return w, nil
}

// joinBoard takes the worker's seat on the balance board, whose
// descriptors start at first, if the master gave it one.
func joinBoard(first int) error {
	spec, ok := os.LookupEnv(envBalance)
	if !ok {
		return nil
	}
	os.Unsetenv(envBalance)
	var slot, files int
	if _, err := fmt.Sscanf(spec, "%d:%d", &slot, &files); err != nil || files < 2 {
		return fmt.Errorf("malformed %s=%q", envBalance, spec)
	}
	fs := make([]*os.File, files)
	for i := range fs {
		fs[i] = os.NewFile(uintptr(first+i), "balance")
	}
	seat, err := balance.Join(fs, slot)
	if err != nil {
		return err
	}
	balance.SetJoined(seat)
	return nil
}

func (w *Worker) send(msg string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.pipe.WriteString(msg + "\n")
	return err
}

// Ready tells the master the worker serves.
func (w *Worker) Ready() { w.send(msgReady) }

// Recycle asks the master to start a replacement and then stop this
// worker gracefully.
func (w *Worker) Recycle(reason string) {
	w.send(msgRecycle + " " + strings.ReplaceAll(reason, "\n", " "))
}

// Heartbeat tells the master every second that the worker lives, until
// the master is gone: then it calls orphaned, once.
func (w *Worker) Heartbeat(orphaned func()) {
	go func() {
		for range time.Tick(heartbeatEvery) {
			if w.send(msgAlive) != nil {
				orphaned()
				return
			}
		}
	}()
}
