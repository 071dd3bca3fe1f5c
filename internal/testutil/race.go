//go:build race

package testutil

// RaceEnabled tells whether the tests run with the race detector, so the
// binary they start is built the same way.
const RaceEnabled = true
