package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi"
)

// newCGICommand is "gowsgi cgi": one request as a CGI program, as
// wsgiref.handlers.CGIHandler runs it.
func newCGICommand() *cobra.Command {
	var c settings
	var iis bool
	cmd := &cobra.Command{
		Use:   "cgi [flags] MODULE:CALLABLE",
		Short: "Run one request as a CGI program (wsgiref's CGIHandler)",
		Long: `cgi runs the application for the one request a web server describes in the
CGI variables of the environment and the body on stdin, and writes the CGI
response ("Status: 200 OK", headers, a blank line, the body) to stdout, as
Python's wsgiref.handlers.CGIHandler does. The web server (lighttpd's
mod_cgi, Apache's mod_cgi, IIS) runs it once per request: no master, no
workers, no listener. wsgi.run_once and wsgi.multiprocess are true.

An application error becomes a 500 response, the traceback on stderr.`,
		Example: `  #!/bin/sh
  exec gowsgi cgi --chdir /srv/app myproject.wsgi:application`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCGI(cmd.Flags(), &c, args[0], iis)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&c.chdir, "chdir", "", "change to this directory before loading the application (it goes on sys.path)")
	fs.StringVar(&c.pythonpath, "pythonpath", "", "comma-separated directories to put in front of sys.path")
	fs.StringArrayVarP(&c.env, "env", "e", nil, "set an environment variable KEY=VALUE for the application; repeatable")
	fs.StringVar(&c.virtualenv, "virtualenv", "", "use this virtualenv's site-packages and python (default $VIRTUAL_ENV)")
	fs.StringVar(&c.scriptName, "script-name", "",
		"mount prefix, split off PATH_INFO when the web server sends no SCRIPT_NAME")
	fs.StringVar(&c.logLevel, "log-level", "info", "error log level (to stderr): debug, info, warning, error, critical")
	fs.BoolVar(&iis, "iis", false,
		"correct IIS's PATH_INFO, which starts with SCRIPT_NAME (wsgiref's IISCGIHandler)")
	return cmd
}

// cgiFailure is the response when the application cannot even be loaded:
// the web server shows a 500 instead of a malformed answer.
const cgiFailure = "Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInternal Server Error\n"

func runCGI(fs *pflag.FlagSet, c *settings, spec string, iis bool) error {
	if err := applyEnv(fs, nil); err != nil {
		return err
	}
	c.errorLogfile = "-"
	l, err := openLogs(c)
	if err != nil {
		return err
	}
	path, err := setUpProcess(c)
	if err != nil {
		return err
	}
	app, err := gowsgi.New(gowsgi.Options{
		App:          spec,
		Threads:      1,
		ScriptName:   c.scriptName,
		Multiprocess: true,
		RunOnce:      true,
		QueueTimeout: -1,
		Logger:       l.log,
		Errors:       os.Stderr,
		Python:       gowsgi.PythonConfig{Virtualenv: c.virtualenv, Path: path},
	})
	if err != nil {
		os.Stdout.WriteString(cgiFailure)
		var le *gowsgi.LoadError
		if errors.As(err, &le) {
			l.log.Error("Failed to load application "+le.Spec, "traceback", le.Traceback)
			return exitError{exitAppLoad}
		}
		l.log.Error(err.Error())
		return exitError{exitConfig}
	}
	err = app.ServeCGI(os.Environ(), os.Stdin, os.Stdout, gowsgi.CGIOptions{IIS: iis})
	app.Close()
	gowsgi.StopPython()
	if err != nil {
		l.log.Error("CGI response incomplete", "error", err)
		return exitError{1}
	}
	return nil
}
