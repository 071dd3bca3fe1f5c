package engine

// pace bounds how long a connection's owner waits for a slow client: a
// Python thread writing a response the client does not read, or reading a
// body it trickles.

import "time"

// progressUnit is how many bytes a client must move to earn a new
// timeout: a deadline renewed with every byte (nginx's send_timeout and
// client_body_timeout) lets a client that reads or sends one byte a second
// hold the waiting thread for as long as it likes.
const progressUnit = 1 << 20

// pace is the time spent waiting for the client in one direction of an
// exchange: at most timeout in all for each progressUnit bytes moved.
type pace struct {
	timeout time.Duration
	waited  time.Duration // since the last progressUnit
	moved   int64         // bytes since then
}

// reset starts a new exchange.
func (p *pace) reset() { p.waited, p.moved = 0, 0 }

// add counts n bytes moved.
func (p *pace) add(n int) {
	p.moved += int64(n)
	if p.moved >= progressUnit {
		p.waited, p.moved = 0, 0
	}
}

// deadline is when a wait starting at start must end.
func (p *pace) deadline(start time.Time) time.Time { return start.Add(p.timeout - p.waited) }

// spent counts a wait that began at start.
func (p *pace) spent(start time.Time) { p.waited += time.Since(start) }
