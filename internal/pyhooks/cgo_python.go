//go:build !gowsgi_python_flags

package pyhooks

// The Python to embed, as the gowsgi package finds it (its cgo_python.go).

// #cgo pkg-config: python3-embed
import "C"
