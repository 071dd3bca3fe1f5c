// Command gowsgi serves a Python WSGI application: a drop-in for gunicorn.
//
//	gowsgi myproject.wsgi:application
//	gowsgi 'app:create_app()' --bind 0.0.0.0:8080 --threads 16
//	gowsgi -c gunicorn.conf.py
//	gowsgi demo
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/master"
)

// demoApp is wsgiref's demo application: "Hello world!" and the environ.
const demoApp = "wsgiref.simple_server:demo_app"

// Exit statuses, as gunicorn's.
const (
	exitConfig  = 1 // a setting the server cannot use: one line says which
	exitUsage   = 2 // a command line that does not parse
	exitBoot    = master.ExitBootError
	exitAppLoad = master.ExitAppLoad
)

func main() {
	// The same binary runs the master's helper, configuration checks and
	// the workers; the environment says which.
	if spec, ok := os.LookupEnv(envHelper); ok {
		os.Exit(runHelper(spec))
	}
	if spec, ok := os.LookupEnv(envCheck); ok {
		os.Exit(runCheck(spec))
	}
	w, err := master.InWorker()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gowsgi:", err)
		os.Exit(exitBoot)
	}
	if w != nil {
		os.Exit(runWorkerProcess(w))
	}
	os.Exit(execute(os.Args[1:]))
}

// execute runs the command line and returns the exit status.
func execute(args []string) int {
	root := newRootCommand(isSubcommand(args))
	root.SetArgs(args)
	err := root.Execute()
	var ex exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ex):
		return ex.code
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "gowsgi:", err)
		return exitUsage
	}
	fmt.Fprintln(os.Stderr, "gowsgi:", err)
	return exitConfig
}

// exitError ends the command with a status, its message already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a command line that does not parse (exit status 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// Subcommands are recognized as the first argument only: anywhere else a
// word is the application, so "gowsgi -b :8000 version" serves a module
// named version. demo and version are the application even first when
// the working directory holds a module of that name (demo.py, demo/), as
// gunicorn would serve it.
var subcommands = map[string]bool{"serve": true, "demo": true, "version": true, "cgi": true, "help": true}

func isSubcommand(args []string) bool {
	if len(args) == 0 || !subcommands[args[0]] {
		return false
	}
	if args[0] == "demo" || args[0] == "version" {
		return !moduleHere(args[0])
	}
	return true
}

// moduleHere tells whether name is a Python module of the working
// directory.
func moduleHere(name string) bool {
	for _, p := range []string{name + ".py", filepath.Join(name, "__init__.py")} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

const rootLong = `gowsgi serves any WSGI application (Flask, Django, Pyramid, ...) with CPython
embedded in the server. Its flags and its configuration file follow
gunicorn's names and meanings.

MODULE:CALLABLE names the application as gunicorn does:
  pkg.module:name              the WSGI callable
  pkg.module:factory(args)     call a factory with literal arguments
  pkg.module                   its "application", or else "app"
It may also come from the configuration file (wsgi_app).

Settings come from, the first winning: the command line, GOWSGI_CMD_ARGS
and GUNICORN_CMD_ARGS (command lines in the environment), the configuration
file (-c FILE, else ./gunicorn.conf.py if present; Python as gunicorn's, or
TOML), the variables GOWSGI_<FLAG> (upper case, "-" as "_": GOWSGI_THREADS=16,
GOWSGI_BIND=0.0.0.0:8080), then the defaults, which $PORT (bind
0.0.0.0:$PORT), $WEB_CONCURRENCY (workers) and $FORWARDED_ALLOW_IPS change.

Commands, recognized as the first argument only:
  serve    serve an application (the default)
  demo     serve wsgiref's demo application (unless ./demo.py exists)
  cgi      run one request as a CGI program
  version  print the version and the Python embedded (unless ./version.py exists)

Exit status: 0, 1 for a setting that cannot be used, 2 for a command line
that does not parse, 3 when a worker fails to boot, 4 when the application
cannot be imported.`

func newRootCommand(withSubcommands bool) *cobra.Command {
	var c settings
	root := &cobra.Command{
		Use:   "gowsgi [flags] [MODULE:CALLABLE]",
		Short: "Serve a Python WSGI application (PEP 3333) from embedded CPython",
		Long:  rootLong,
		Example: `  gowsgi myproject.wsgi:application
  gowsgi 'app:create_app()' --bind 0.0.0.0:8080 --threads 16
  gowsgi -c gunicorn.conf.py
  gowsgi demo`,
		Version:       versionText(),
		Args:          usageArgs(cobra.MaximumNArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Flags(), &c, firstArg(args))
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	addServeFlags(root.Flags(), &c)
	if !withSubcommands {
		return root
	}

	var sc settings
	serveCmd := &cobra.Command{
		Use:           "serve [flags] [MODULE:CALLABLE]",
		Short:         "Serve a WSGI application (the default command)",
		Args:          usageArgs(cobra.MaximumNArgs(1)),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Flags(), &sc, firstArg(args))
		},
	}
	addServeFlags(serveCmd.Flags(), &sc)

	var dc settings
	demo := &cobra.Command{
		Use:   "demo [flags]",
		Short: `Serve wsgiref's demo application: "Hello world!" and the environ`,
		Long: `demo serves Python's wsgiref.simple_server.demo_app, which answers every
request with "Hello world!" followed by the sorted environ: a quick look at
what an application receives. It takes the same flags as serve. In a
directory that holds a module named demo, "gowsgi demo" serves that module.`,
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Flags(), &dc, demoApp)
		},
	}
	addServeFlags(demo.Flags(), &dc)

	version := &cobra.Command{
		Use:   "version",
		Short: "Print the gowsgi version and the Python it embeds",
		Args:  usageArgs(cobra.NoArgs),
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Println(versionText())
		},
	}
	for _, sub := range []*cobra.Command{serveCmd, demo, version, newCGICommand()} {
		sub.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
		root.AddCommand(sub)
	}
	return root
}

// usageArgs makes an argument count error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func versionText() string {
	exe, err := gowsgi.PythonExecutable("")
	if err != nil {
		exe = "(" + err.Error() + ")"
	}
	v := strings.ReplaceAll(gowsgi.PythonVersion(), "\n", " ")
	text := fmt.Sprintf("gowsgi %s\nPython %s\nlibpython: %s\nexecutable: %s\nbuilt with the headers of Python %s",
		gowsgi.Version, v, gowsgi.PythonLibrary(), exe, gowsgi.PythonBuiltVersion())
	if w := gowsgi.PythonLibraryWarning(); w != "" {
		text += "\nwarning: " + w
	}
	return text
}
