package core

// #include "gowsgi.h"
import "C"

import (
	"runtime"
	"sync"
)

// The interrupting thread posts gowsgi.RequestTimeout to the Python thread
// of a request past its timeout. Posting needs the GIL, which the request's
// own thread holds while it runs Python, so another thread must take it: one
// thread per process, made when the first timeout fires, with its own
// Python thread state, running no Python code but this. The exception is
// raised in the request's thread.
var interrupter struct {
	once  sync.Once
	posts chan func()
}

// postInterrupt runs post on the interrupting thread, without waiting.
func postInterrupt(post func()) {
	interrupter.once.Do(func() {
		interrupter.posts = make(chan func(), 64)
		go func() {
			runtime.LockOSThread() // for good: no other goroutine runs Python here
			C.gw_thread_attach()
			for f := range interrupter.posts {
				f()
			}
		}()
	})
	interrupter.posts <- post
}
