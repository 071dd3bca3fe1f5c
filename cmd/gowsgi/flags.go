package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// config holds the settings of serve and demo. The flags keep gunicorn's
// names and meanings, so a gunicorn command line mostly works unchanged.
type config struct {
	binds            []string
	workers          int
	threads          int
	chdir            string
	pythonpath       string
	env              []string
	virtualenv       string
	logLevel         string
	accessLogfile    string
	accessLogformat  string
	errorLogfile     string
	keepAlive        int
	gracefulTimeout  int
	limitLine        int
	limitFields      int
	limitFieldSize   int
	limitRequestBody int64
	queueSize        int
	queueTimeout     time.Duration
	scriptName       string
	timeout          int
	maxRequests      int64
	maxJitter        int64
	maxWorkerMemory  int64
	pidFile          string
	user, group      string
	reusePort        bool
	socketMode       string
	validate         bool
	dev              devConfig
}

// envPrefix: every flag can also be set as GOWSGI_<NAME>, e.g.
// GOWSGI_THREADS=16 or GOWSGI_BIND=0.0.0.0:8080,unix:/run/app.sock.
const envPrefix = "GOWSGI_"

func addServeFlags(fs *pflag.FlagSet, c *config) {
	fs.SortFlags = false
	fs.StringSliceVarP(&c.binds, "bind", "b", []string{"127.0.0.1:8000"},
		"address to listen on: HOST:PORT, [IPV6]:PORT, :PORT, unix:PATH or fd://N; repeat for several "+
			"(ignored under systemd socket activation). For a front server: fcgi://HOST:PORT, fcgi:unix:PATH "+
			"(FastCGI), uwsgi://HOST:PORT, uwsgi:unix:PATH (uwsgi protocol)")
	fs.IntVarP(&c.workers, "workers", "w", 1,
		"worker processes, each with its own Python interpreter; in production about one per CPU core")
	fs.IntVar(&c.threads, "threads", 1,
		"Python threads per worker; each waits in Go without the GIL while a client is slow")
	fs.StringVar(&c.chdir, "chdir", "", "change to this directory before loading the application (it goes on sys.path)")
	fs.StringVar(&c.pythonpath, "pythonpath", "", "comma-separated directories to put in front of sys.path")
	fs.StringArrayVarP(&c.env, "env", "e", nil, "set an environment variable KEY=VALUE for the application; repeatable")
	fs.StringVar(&c.virtualenv, "virtualenv", "", "use this virtualenv's site-packages and python (default $VIRTUAL_ENV)")
	fs.StringVar(&c.logLevel, "log-level", "info", "error log level: debug, info, warning, error, critical")
	fs.StringVar(&c.accessLogfile, "access-logfile", "", `access log file ("-" for stdout); none by default`)
	fs.StringVar(&c.accessLogformat, "access-logformat", "",
		`access log format in gunicorn's atoms, default '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'`)
	fs.StringVar(&c.errorLogfile, "error-logfile", "-", `error log file ("-" for stderr); also receives wsgi.errors`)
	fs.StringVar(&c.errorLogfile, "log-file", "-", "alias of --error-logfile")
	fs.IntVar(&c.keepAlive, "keep-alive", 2, "seconds an idle keep-alive connection waits for its next request")
	fs.IntVar(&c.gracefulTimeout, "graceful-timeout", 30,
		"seconds requests in progress get to finish after SIGTERM/SIGINT/SIGHUP before their worker exits anyway")
	fs.IntVarP(&c.timeout, "timeout", "t", 30,
		"seconds a request's Python code may run (waits for the client excluded): then 504, the thread is "+
			"interrupted, and a worker whose thread does not come back is replaced (0: no limit)")
	fs.Int64Var(&c.maxRequests, "max-requests", 0, "replace a worker after it served this many requests (0: never)")
	fs.Int64Var(&c.maxJitter, "max-requests-jitter", 0, "add up to this many to --max-requests, per worker, so they are not replaced together")
	fs.Int64Var(&c.maxWorkerMemory, "max-worker-memory", 0, "replace a worker whose resident memory passes this many MiB (0: no limit)")
	fs.StringVarP(&c.pidFile, "pid", "p", "", "write the master's process ID to this file")
	fs.StringVarP(&c.user, "user", "u", "", "run the workers as this user (name or ID); the master binds the sockets first")
	fs.StringVarP(&c.group, "group", "g", "", "run the workers as this group (name or ID); default the user's group")
	fs.BoolVar(&c.reusePort, "reuse-port", false, "set SO_REUSEPORT on the TCP sockets")
	fs.StringVar(&c.socketMode, "socket-mode", "", "permissions of Unix socket files, in octal (e.g. 660)")
	fs.IntVar(&c.limitLine, "limit-request-line", 4094, "longest request line in bytes (0: up to 1 MiB)")
	fs.IntVar(&c.limitFields, "limit-request-fields", 100, "most header fields in a request")
	fs.IntVar(&c.limitFieldSize, "limit-request-field_size", 8190, "longest header field line in bytes")
	fs.IntVar(&c.limitFieldSize, "limit-request-field-size", 8190, "alias of --limit-request-field_size")
	fs.Int64Var(&c.limitRequestBody, "limit-request-body", 0, "largest request body in bytes, larger ones get 413 (0: no limit)")
	fs.IntVar(&c.queueSize, "queue-size", 1024,
		"requests that may wait for a free Python thread; more are answered 503 with Retry-After")
	fs.DurationVar(&c.queueTimeout, "queue-timeout", 30*time.Second,
		"longest wait for a free Python thread before answering 503 with Retry-After")
	fs.StringVar(&c.scriptName, "script-name", os.Getenv("SCRIPT_NAME"),
		"mount prefix: SCRIPT_NAME of every request (default $SCRIPT_NAME, as gunicorn)")
	fs.BoolVar(&c.validate, "validate", false,
		"check the application strictly against PEP 3333 (all of wsgiref.validate and more): each violation is "+
			"logged with the rule and the application's file and line, and answered 500; for development and tests")
	addDevFlags(fs, &c.dev)
	fs.MarkHidden("log-file")
	fs.MarkHidden("limit-request-field-size")
}

// envName is the environment variable of a flag: GOWSGI_LIMIT_REQUEST_FIELD_SIZE.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.NewReplacer("-", "_").Replace(flag))
}

// applyEnv sets every flag not given on the command line from its
// GOWSGI_ environment variable.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Hidden {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
		}
	})
	return err
}
