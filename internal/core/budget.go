package core

// A Budget is a worker-wide bound on bytes that clients make the server
// hold (request buffers in memory, spooled bodies on disk): per-request and
// per-connection limits alone let many clients together take the host's
// memory or disk.

import "sync/atomic"

// Budget counts bytes taken against a limit; it is safe for concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
	peak  atomic.Int64 // the most used at once, for tests and figures
}

// NewBudget makes a Budget of limit bytes (limit <= 0: no limit).
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Take takes n bytes if the budget has them, and reports whether it did.
func (b *Budget) Take(n int64) bool {
	if b.limit <= 0 {
		b.raisePeak(b.used.Add(n))
		return true
	}
	for {
		used := b.used.Load()
		if used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			b.raisePeak(used + n)
			return true
		}
	}
}

func (b *Budget) raisePeak(used int64) {
	for p := b.peak.Load(); used > p && !b.peak.CompareAndSwap(p, used); p = b.peak.Load() {
	}
}

// Peak is the most bytes taken at once so far.
func (b *Budget) Peak() int64 { return b.peak.Load() }

// Give gives back n bytes taken before.
func (b *Budget) Give(n int64) { b.used.Add(-n) }

// Used is the number of bytes taken now.
func (b *Budget) Used() int64 { return b.used.Load() }

// Limit is the budget's limit (0: none).
func (b *Budget) Limit() int64 { return max(b.limit, 0) }
