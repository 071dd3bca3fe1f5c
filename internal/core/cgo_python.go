//go:build !gowsgi_python_flags

package core

// The Python to embed comes from pkg-config. To build against another
// Python, point PKG_CONFIG_PATH at the directory holding its python3-embed.pc,
// or build with -tags gowsgi_python_flags and give CGO_CFLAGS/CGO_LDFLAGS
// yourself (the Makefile's PYTHON_PC does that for any .pc name).

// #cgo pkg-config: python3-embed
import "C"
