package core

import (
	"sync/atomic"
	"time"
)

// The clocks of requests and connections: monotonic nanoseconds since the
// process's epoch, read once per event and shared.

// epoch anchors monotonic time.
var epoch = time.Now()

// Monotonic reads the clock (and leaves the reading for CoarseNow).
func Monotonic() int64 {
	now := int64(time.Since(epoch))
	coarseClock.Store(now)
	return now
}

// coarseClock is the last monotonic time anyone read: clock reads cost, in
// virtual machines especially, so deadlines of seconds and the Date header
// take this instead of reading the clock again.
var coarseClock atomic.Int64

// CoarseNow is the last time Monotonic read, for deadlines of seconds.
func CoarseNow() int64 { return coarseClock.Load() }

// HTTPDate is the current time for the Date header, formatted once a
// second.
func HTTPDate() []byte {
	now := epoch.Add(time.Duration(CoarseNow())).Unix()
	if d := dateCache.Load(); d != nil && d.sec == now {
		return d.text
	}
	d := &cachedDate{sec: now, text: time.Unix(now, 0).UTC().AppendFormat(nil, "Mon, 02 Jan 2006 15:04:05 GMT")}
	dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	sec  int64
	text []byte
}

var dateCache atomic.Pointer[cachedDate]
