package core

// Tests of the Poller's place in Go's network poller.

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// The Poller's epoll is watched by Go's network poller only while waits go
// through it (waitInGo): watched for nothing, it wakes one of the
// runtime's threads for nearly every request that arrives, and on one CPU
// those wake-ups cost a third of a small view's rate with two processors.
func TestPollerInGoPollerOnlyForItsWaits(t *testing.T) {
	l, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if n := epollsWatching(t, l); n != 0 {
		t.Errorf("made: the Poller's epoll is watched by %d other epolls, want 0", n)
	}
	var waiting atomic.Bool
	for i, inKernel := range []bool{false, false, true, false} {
		want, where := 1, "Go's scheduler"
		if inKernel {
			want, where = 0, "the kernel"
		}
		l.Wake() // the wait returns at once
		l.harvest(true, inKernel, &waiting)
		if n := epollsWatching(t, l); n != want {
			t.Errorf("after wait %d, in %s: the Poller's epoll is watched by %d other epolls, want %d", i+1, where, n, want)
		}
	}
}

// epollsWatching counts the epolls of the process that watch the Poller's
// epoll through one of its descriptors (fd or a duplicate: the
// descriptors of epolls that watch its wake-up eventfd).
func epollsWatching(t *testing.T, l *Poller) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	watched := map[int][]int{} // epoll descriptor: the descriptors it watches
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		watched[fd] = []int{}
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" {
				if target, err := strconv.Atoi(f[1]); err == nil {
					watched[fd] = append(watched[fd], target)
				}
			}
		}
	}
	ours := map[int]bool{}
	for fd, targets := range watched {
		if slices.Contains(targets, l.wakefd) {
			ours[fd] = true
		}
	}
	if !ours[l.epfd] {
		t.Fatalf("the Poller's epoll %d does not watch its eventfd %d: %v", l.epfd, l.wakefd, watched)
	}
	n := 0
	for fd, targets := range watched {
		for _, target := range targets {
			if ours[target] && !ours[fd] {
				n++
			}
		}
	}
	return n
}
