package core

// Pace bounds how long a connection's owner waits for a slow client: a
// Python thread writing a response the client does not read, or reading a
// body it trickles.

import "time"

// progressUnit is how many bytes a client must move to earn a new
// timeout: a deadline renewed with every byte (nginx's send_timeout and
// client_body_timeout) lets a client that reads or sends one byte a second
// hold the waiting thread for as long as it likes.
const progressUnit = 1 << 20

// Pace is the time spent waiting for the client in one direction of an
// exchange: at most Timeout in all for each progressUnit bytes moved. The
// engine waits in poll with its deadline, net/http with the connection's
// read and write deadlines.
type Pace struct {
	Timeout time.Duration
	waited  time.Duration // since the last progressUnit
	moved   int64         // bytes since then
}

// Reset starts a new exchange.
func (p *Pace) Reset() { p.waited, p.moved = 0, 0 }

// Add counts n bytes moved.
func (p *Pace) Add(n int) {
	p.moved += int64(n)
	if p.moved >= progressUnit {
		p.waited, p.moved = 0, 0
	}
}

// Deadline is when a wait starting at start must end.
func (p *Pace) Deadline(start time.Time) time.Time { return start.Add(p.Timeout - p.waited) }

// Spent counts a wait that began at start.
func (p *Pace) Spent(start time.Time) { p.waited += time.Since(start) }
