package gowsgi_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gowsgi/gowsgi"
)

// A Go program mounts a Flask application at /legacy/ beside its own
// handlers: the application sees SCRIPT_NAME "/legacy" and builds its URLs
// under it.
func Example_mount() {
	app, err := gowsgi.New(gowsgi.Options{
		App:        "legacy_flask:app",
		ScriptName: "/legacy",
		Threads:    4,
		Python:     gowsgi.PythonConfig{Path: []string{"testdata"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Go says ok")
	})
	mux.Handle("/legacy/", app)

	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/status", "/legacy/hello"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
	}
	// Output:
	// Go says ok
	// Flask: script_root=/legacy path=/hello
}
