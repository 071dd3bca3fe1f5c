package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/h1"
	"github.com/gowsgi/gowsgi/internal/listen"
	"github.com/gowsgi/gowsgi/internal/logging"
)

// Exit statuses, as gunicorn's.
const (
	exitConfig  = 2 // bad flags or settings
	exitAppLoad = 4 // the application could not be imported
)

// run serves the application named by spec until SIGTERM or SIGINT.
func run(fs *pflag.FlagSet, c *config, spec string) error {
	if err := applyEnv(fs); err != nil {
		return err
	}
	level, err := logging.ParseLevel(c.logLevel)
	if err != nil {
		return err
	}
	errorLog, err := logging.Open(c.errorLogfile, os.Stderr)
	if err != nil {
		return fmt.Errorf("--error-logfile: %w", err)
	}
	log := slog.New(logging.NewHandler(errorLog, level))

	var accessLog io.Writer
	if c.accessLogfile != "" {
		if accessLog, err = logging.Open(c.accessLogfile, os.Stdout); err != nil {
			return fmt.Errorf("--access-logfile: %w", err)
		}
	}
	for _, kv := range c.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--env %q: expected KEY=VALUE", kv)
		}
		os.Setenv(k, v)
	}
	if c.chdir != "" {
		if err := os.Chdir(c.chdir); err != nil {
			return fmt.Errorf("--chdir: %w", err)
		}
	}
	path, err := pythonPath(c.pythonpath)
	if err != nil {
		return err
	}

	// Bind before loading the application, as gunicorn does: a busy port is
	// reported at once.
	var listeners []net.Listener
	for _, b := range c.binds {
		ln, err := listen.Listen(b)
		if err != nil {
			return err
		}
		listeners = append(listeners, ln)
	}

	log.Info("Starting gowsgi " + gowsgi.Version + " (Python " + strings.Fields(gowsgi.PythonVersion())[0] + ")")
	app, err := gowsgi.New(gowsgi.Options{
		App:              spec,
		Threads:          c.threads,
		QueueSize:        c.queueSize,
		QueueTimeout:     c.queueTimeout,
		ScriptName:       c.scriptName,
		LimitRequestBody: c.limitRequestBody,
		Logger:           log,
		Errors:           errorLog,
		AccessLog:        accessLog,
		AccessLogFormat:  c.accessLogformat,
		Python:           gowsgi.PythonConfig{Virtualenv: c.virtualenv, Path: path},
	})
	if err != nil {
		var le *gowsgi.LoadError
		if errors.As(err, &le) {
			log.Error("Failed to load application "+le.Spec, "traceback", le.Traceback)
			return exitError{exitAppLoad}
		}
		log.Error(err.Error())
		return exitError{exitConfig}
	}

	srv := &gowsgi.Server{
		App:       app,
		KeepAlive: time.Duration(c.keepAlive) * time.Second,
		Limits: h1.Limits{
			RequestLine: noLimitIfZero(c.limitLine),
			Fields:      noLimitIfZero(c.limitFields),
			FieldSize:   noLimitIfZero(c.limitFieldSize),
		},
	}
	served := make(chan error, len(listeners))
	for _, ln := range listeners {
		log.Info("Listening at: " + listen.URL(ln))
		go func(ln net.Listener) { served <- srv.Serve(ln) }(ln)
	}
	log.Info(fmt.Sprintf("Application %s, %d Python thread(s)", spec, c.threads))

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	var serveErr error
	select {
	case sig := <-sigs:
		if sig == syscall.SIGQUIT {
			log.Info("Shutting down now (SIGQUIT)")
			return exitError{0}
		}
		log.Info("Shutting down gracefully (" + sig.String() + ")")
	case serveErr = <-served:
		log.Error("Listener failed", "error", serveErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.gracefulTimeout)*time.Second)
	defer cancel()
	go func() {
		// A second signal during the graceful wait stops at once.
		if sig := <-sigs; sig != nil {
			cancel()
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("Requests still running after --graceful-timeout were cut off")
	}
	app.Close()
	gowsgi.StopPython()
	log.Info("Shutdown complete")
	if serveErr != nil {
		return exitError{1}
	}
	return nil
}

// pythonPath is what goes in front of sys.path: the --pythonpath entries,
// then the working directory (after --chdir), as gunicorn arranges it.
func pythonPath(list string) ([]string, error) {
	var path []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		path = append(path, abs)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return append(path, wd), nil
}

// noLimitIfZero: on the command line 0 means "no limit", as in gunicorn;
// for Server it means "the default".
func noLimitIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
