// Command nethttp answers "Hello, world!" with Go's net/http and no Python:
// the ceiling of an HTTP layer in Go, for bench/run.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	flag.Parse()
	hello := []byte("Hello, world!")
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})))
}
