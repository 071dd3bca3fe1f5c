// The tally of the clients' results: answers and failures per kind, every
// failure kept, and when each worker last answered (the kill picks one
// that serves).
package main

import (
	"sort"
	"sync"
	"time"
)

type recorder struct {
	mu       sync.Mutex
	ok       map[string]int
	failed   map[string]int
	failures []result
	lastSeen map[int]time.Time // worker PID: its last answer
}

func newRecorder() *recorder {
	return &recorder{ok: map[string]int{}, failed: map[string]int{}, lastSeen: map[int]time.Time{}}
}

func (r *recorder) add(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.answeredBy != 0 {
		r.lastSeen[res.answeredBy] = res.end
	}
	if res.err == nil {
		r.ok[res.kind]++
		return
	}
	r.failed[res.kind]++
	r.failures = append(r.failures, res)
}

// serving returns the workers that answered since t, most recent first.
func (r *recorder) serving(since time.Time) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pids []int
	for pid, t := range r.lastSeen {
		if t.After(since) {
			pids = append(pids, pid)
		}
	}
	sort.Slice(pids, func(i, j int) bool { return r.lastSeen[pids[i]].After(r.lastSeen[pids[j]]) })
	return pids
}

// totals returns the answers and failures of every kind.
func (r *recorder) totals() (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.ok {
		ok += n
	}
	for _, n := range r.failed {
		failed += n
	}
	return ok, failed
}

func (r *recorder) snapshot() (ok, failed map[string]int, failures []result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, failed = map[string]int{}, map[string]int{}
	for k, v := range r.ok {
		ok[k] = v
	}
	for k, v := range r.failed {
		failed[k] = v
	}
	return ok, failed, append([]result(nil), r.failures...)
}
