// Command gowsgi serves a Python WSGI application: a drop-in for gunicorn.
//
//	gowsgi myproject.wsgi:application
//	gowsgi 'app:create_app()' --bind 0.0.0.0:8080 --threads 16
//	gowsgi demo
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gowsgi/gowsgi"
)

// demoApp is wsgiref's demo application: "Hello world!" and the environ.
const demoApp = "wsgiref.simple_server:demo_app"

func main() {
	err := newRootCommand().Execute()
	var ex exitError
	switch {
	case errors.As(err, &ex):
		os.Exit(ex.code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "gowsgi:", err)
		os.Exit(2)
	}
}

// exitError ends the command with a status, its message already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCommand() *cobra.Command {
	var c config
	root := &cobra.Command{
		Use:   "gowsgi [serve] [flags] MODULE:CALLABLE",
		Short: "Serve a Python WSGI application (PEP 3333) from embedded CPython",
		Long: `gowsgi serves any WSGI application (Flask, Django, Pyramid, ...) with CPython
embedded in the server. Its flags follow gunicorn's names and meanings.

MODULE:CALLABLE names the application as gunicorn does:
  pkg.module:name              the WSGI callable
  pkg.module:factory(args)     call a factory with literal arguments
  pkg.module                   its "application", or else "app"

Every flag can also come from the environment as GOWSGI_<FLAG>, upper case
with "-" as "_": GOWSGI_THREADS=16, GOWSGI_BIND=0.0.0.0:8080.`,
		Example: `  gowsgi myproject.wsgi:application
  gowsgi 'app:create_app()' --bind 0.0.0.0:8080 --threads 16
  gowsgi demo`,
		Version:       versionText(),
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Flags(), &c, args[0])
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	addServeFlags(root.Flags(), &c)

	var sc config
	serve := &cobra.Command{
		Use:           "serve [flags] MODULE:CALLABLE",
		Short:         "Serve a WSGI application (the default command)",
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Flags(), &sc, args[0])
		},
	}
	addServeFlags(serve.Flags(), &sc)

	var dc config
	demo := &cobra.Command{
		Use:   "demo [flags]",
		Short: `Serve wsgiref's demo application: "Hello world!" and the environ`,
		Long: `demo serves Python's wsgiref.simple_server.demo_app, which answers every
request with "Hello world!" followed by the sorted environ: a quick look at
what an application receives. It takes the same flags as serve.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Flags(), &dc, demoApp)
		},
	}
	addServeFlags(demo.Flags(), &dc)

	version := &cobra.Command{
		Use:   "version",
		Short: "Print the gowsgi version and the Python it embeds",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Println(versionText())
		},
	}
	root.AddCommand(serve, demo, version, newCGICommand())
	return root
}

func versionText() string {
	exe, err := gowsgi.PythonExecutable("")
	if err != nil {
		exe = "(" + err.Error() + ")"
	}
	v := strings.ReplaceAll(gowsgi.PythonVersion(), "\n", " ")
	return fmt.Sprintf("gowsgi %s\nPython %s\nlibpython: %s\nexecutable: %s",
		gowsgi.Version, v, gowsgi.PythonLibrary(), exe)
}
