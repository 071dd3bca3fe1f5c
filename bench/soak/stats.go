// The soak's statistics: a least-squares slope for memory over time.
package main

import "time"

// A sample is one reading of a process.
type sample struct {
	at      time.Time
	rss     float64 // MB
	sockets int
	others  int // descriptors that are not sockets
}

// slopePerHour fits rss = a + b·t by least squares and returns b in MB per
// hour (0 with fewer than two samples).
func slopePerHour(samples []sample) float64 {
	if len(samples) < 2 {
		return 0
	}
	t0 := samples[0].at
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		x := s.at.Sub(t0).Hours()
		n++
		sx += x
		sy += s.rss
		sxx += x * x
		sxy += x * s.rss
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
