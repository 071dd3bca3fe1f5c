package main

import (
	"os"
	"testing"

	"github.com/gowsgi/gowsgi/internal/testutil"
)

// The tests of this package run the real gowsgi binary (built once by
// testutil) against the applications in testdata/.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}
