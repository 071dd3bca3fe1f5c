package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi"
	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/gateway"
)

// settings holds the settings of serve and demo. The flags keep gunicorn's
// names and meanings, so a gunicorn command line works unchanged; a
// configuration file (-c) sets the same settings by gunicorn's names.
type settings struct {
	binds             []string
	workers           int
	workerClass       string
	threads           int
	chdir             string
	pythonpath        string
	env               []string
	virtualenv        string
	logLevel          string
	accessLogfile     string
	accessLogformat   string
	errorLogfile      string
	captureOutput     bool
	keepAlive         int
	fcgiIdle          time.Duration
	gracefulTimeout   int
	limitLine         int
	limitFields       int
	limitFieldSize    int
	limitRequestBody  int64
	bodyBufferSize    int
	bodyTimeout       time.Duration
	sendTimeout       time.Duration
	bufferMemory      int64
	tmpUploadLimit    int64
	maxConnections    int
	queueSize         int
	queueTimeout      time.Duration
	scriptName        string
	timeout           int
	maxRequests       int64
	maxJitter         int64
	maxWorkerMemory   int64
	preload           bool
	pidFile           string
	user, group       string
	initgroups        bool
	umask             int64
	name              string
	reusePort         bool
	backlog           int
	socketMode        string
	protocol          string
	uwsgiAllowFrom    string
	proxyProtocol     string
	proxyAllowFrom    string
	forwardedAllowIPs string
	workerTmpDir      string
	tmpUploadDir      string
	certfile, keyfile string
	caCerts           string
	certReqs          int
	httpProtocols     string
	validate          bool
	dev               devConfig

	configFile  string
	checkConfig bool
	printConfig bool

	// Only configuration files set these.
	secureSchemeHeaders map[string]string
	wsgiApp             string

	// unsupported holds gunicorn's command-line settings gowsgi does not
	// do, by setting name, to be explained (internal/config).
	unsupported map[string][]string
}

// envPrefix: every flag can also be set as GOWSGI_<NAME>, e.g.
// GOWSGI_THREADS=16 or GOWSGI_BIND=0.0.0.0:8080,unix:/run/app.sock.
const envPrefix = "GOWSGI_"

// defaultBind is gunicorn's.
const defaultBind = "127.0.0.1:8000"

func addServeFlags(fs *pflag.FlagSet, c *settings) {
	fs.SortFlags = false
	fs.StringVarP(&c.configFile, "config", "c", "",
		"configuration file: gunicorn's Python file (bind = ..., workers = ..., hooks as functions), "+
			"python:MODULE, or a TOML file (*.toml); default ./gunicorn.conf.py if it exists")
	fs.StringSliceVarP(&c.binds, "bind", "b", []string{defaultBind},
		"address to listen on: HOST:PORT, [IPV6]:PORT, :PORT, unix:PATH or fd://N; repeat for several "+
			"(0.0.0.0:$PORT when $PORT is set and nothing else binds; ignored under systemd socket activation). A host name "+
			"binds every address it resolves to; 0.0.0.0 is IPv4 only, [::] and :PORT are IPv4 and IPv6. For a "+
			"front server: fcgi://HOST:PORT, fcgi:unix:PATH (FastCGI), uwsgi://HOST:PORT, uwsgi:unix:PATH (uwsgi protocol)")
	fs.IntVarP(&c.workers, "workers", "w", 1,
		"worker processes, each with its own Python interpreter; in production about one per CPU core "+
			"($WEB_CONCURRENCY, when set, is the default)")
	fs.StringVarP(&c.workerClass, "worker-class", "k", "sync",
		"gunicorn's worker class: sync and gthread are accepted and both mean Python threads in each worker "+
			"(--threads); asynchronous ones (gevent, eventlet, uvicorn) are refused")
	fs.IntVar(&c.threads, "threads", 1,
		"Python threads per worker; each waits in Go without the GIL while a client is slow")
	fs.StringVar(&c.chdir, "chdir", "", "change to this directory before loading the application (it goes on sys.path)")
	fs.StringVar(&c.pythonpath, "pythonpath", "", "comma-separated directories to put in front of sys.path")
	fs.StringArrayVarP(&c.env, "env", "e", nil, "set an environment variable KEY=VALUE for the application; repeatable")
	fs.StringVar(&c.virtualenv, "virtualenv", "", "use this virtualenv's site-packages and python (default $VIRTUAL_ENV)")
	fs.BoolVar(&c.preload, "preload", false,
		"import the application in the first worker before starting the others, so an import error is "+
			"reported once; workers are new processes here, not forks, so no memory is shared")
	fs.StringVar(&c.logLevel, "log-level", "info", "error log level: debug, info, warning, error, critical")
	fs.StringVar(&c.accessLogfile, "access-logfile", "", `access log file ("-" for stdout); none by default`)
	fs.StringVar(&c.accessLogformat, "access-logformat", gowsgi.DefaultAccessLogFormat,
		"access log format in gunicorn's atoms (an unknown atom is written \"-\"; {NAME}e is an environ variable)")
	fs.StringVar(&c.errorLogfile, "error-logfile", "-", `error log file ("-" for stderr); also receives wsgi.errors`)
	fs.StringVar(&c.errorLogfile, "log-file", "-", "alias of --error-logfile")
	fs.BoolVar(&c.captureOutput, "capture-output", false,
		"send what the application prints to stdout and stderr into --error-logfile too")
	fs.IntVar(&c.keepAlive, "keep-alive", 2, "seconds an idle keep-alive connection waits for its next request")
	c.fcgiIdle = gateway.DefaultFastCGIIdleTimeout
	fs.Var(seconds{&c.fcgiIdle}, "fastcgi-idle-timeout",
		"longest wait of a FastCGI connection for its next request (keep it above the front server's keepalive_timeout, nginx's 60 s)")
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
	fs.BoolVar(&c.initgroups, "initgroups", false, "give the workers all the groups --user belongs to, not only --group")
	fs.VarP(octal{&c.umask}, "umask", "m", "file mode mask of the Unix socket files gowsgi creates, e.g. 007 or 0o007 "+
		"(default 0, as gunicorn: anyone may connect)")
	fs.StringVarP(&c.name, "name", "n", "",
		`process titles: "gowsgi: master [NAME]" and "gowsgi: worker [NAME]" in ps and top`)
	fs.BoolVar(&c.reusePort, "reuse-port", false, "set SO_REUSEPORT on the TCP sockets")
	fs.IntVar(&c.backlog, "backlog", 2048, "connections the kernel queues before gowsgi accepts them")
	fs.StringVar(&c.socketMode, "socket-mode", "", "permissions of Unix socket files, in octal (e.g. 660)")
	fs.StringVar(&c.protocol, "protocol", "http",
		"protocol of the --bind addresses that name none: http, uwsgi (nginx's uwsgi_pass) or fcgi (fastcgi_pass)")
	fs.StringVar(&c.uwsgiAllowFrom, "uwsgi-allow-from", "127.0.0.1,::1",
		`addresses or networks (CIDR) allowed to connect to uwsgi sockets, comma-separated; "*" for any (Unix sockets always)`)
	fs.StringVar(&c.proxyProtocol, "proxy-protocol", "off",
		"read a PROXY protocol header (HAProxy's; AWS, GCP load balancers, stunnel) at the start of HTTP connections "+
			"and take its client as REMOTE_ADDR: off, v1, v2, or auto (either; the flag alone means auto)")
	fs.Lookup("proxy-protocol").NoOptDefVal = "auto"
	fs.StringVar(&c.proxyAllowFrom, "proxy-allow-from", "127.0.0.1,::1",
		`peers (addresses or CIDR networks, comma-separated; "*" for any) allowed to send a PROXY header (Unix sockets always)`)
	fs.StringVar(&c.forwardedAllowIPs, "forwarded-allow-ips", "127.0.0.1,::1",
		"front ends (addresses or CIDR networks, comma-separated; \"*\" for any) trusted to say the request "+
			"came over HTTPS (secure_scheme_headers, by default X-Forwarded-Proto: https); default $FORWARDED_ALLOW_IPS when set")
	fs.StringVar(&c.certfile, "certfile", "", "serve HTTPS with this PEM certificate (and chain)")
	fs.StringVar(&c.keyfile, "keyfile", "", "the certificate's PEM private key (default: in --certfile)")
	fs.StringVar(&c.caCerts, "ca-certs", "", "PEM file of the certificate authorities client certificates are checked against")
	fs.IntVar(&c.certReqs, "cert-reqs", 0, "client certificates: 0 none, 1 checked if given, 2 required (Python's ssl.CERT_*)")
	fs.StringVar(&c.httpProtocols, "http-protocols", "h1", "HTTP versions offered over TLS: h1, or h2,h1 for HTTP/2 too")
	fs.StringVar(&c.workerTmpDir, "worker-tmp-dir", "",
		"checked to be a directory, as gunicorn does; gowsgi's workers keep no heartbeat file there (they report over a pipe)")
	fs.StringVar(&c.tmpUploadDir, "tmp-upload-dir", "",
		"directory of the (unlinked) files that hold request bodies too large for memory (default $TMPDIR or /tmp)")
	fs.IntVar(&c.limitLine, "limit-request-line", 8190, "longest request line in bytes (0: up to 1 MiB)")
	fs.IntVar(&c.limitFields, "limit-request-fields", 100, "most header fields in a request (FastCGI, uwsgi: HTTP_* variables)")
	fs.IntVar(&c.limitFieldSize, "limit-request-field_size", 8190, "longest header field line in bytes")
	fs.IntVar(&c.limitFieldSize, "limit-request-field-size", 8190, "alias of --limit-request-field_size")
	fs.Int64Var(&c.limitRequestBody, "limit-request-body", 1<<30,
		"largest request body in bytes, in memory and on disk, as nginx's client_max_body_size: larger ones get 413 "+
			"and their connection is closed (0: no limit)")
	fs.IntVar(&c.bodyBufferSize, "client-body-buffer-size", 64<<10,
		"request bodies up to this many bytes are read before the application runs, so a slow uploader holds no "+
			"Python thread (nginx's client_body_buffer_size); a chunked body keeps this much in memory, the rest on disk")
	c.bodyTimeout, c.sendTimeout = 60*time.Second, 60*time.Second
	fs.Var(seconds{&c.bodyTimeout}, "client-body-timeout",
		"longest wait, in all for each MiB, for a request body the application reads from the client: then "+
			"wsgi.input raises OSError (a chunked body gets 408)")
	fs.Var(seconds{&c.sendTimeout}, "send-timeout",
		"longest wait, in all for each MiB, for a client to take a response: then the connection is cut and the Python thread is free")
	fs.Int64Var(&c.bufferMemory, "worker-buffer-memory", 16<<20,
		"bytes of memory a worker gives all request buffers beyond 4 KiB a connection (bodies read ahead, long heads); "+
			"beyond it bodies are not read ahead and a long head gets 503 (0: no limit)")
	fs.Int64Var(&c.tmpUploadLimit, "tmp-upload-limit", 4<<30,
		"bytes of disk a worker's spooled request bodies take together in --tmp-upload-dir; a body beyond it gets 503 (0: no limit)")
	fs.IntVar(&c.maxConnections, "max-connections", 1000,
		"connections a worker serves at once (gunicorn's worker_connections); one more takes the place of a connection "+
			"slow to send its request head (over a second), else gets 503 and is closed "+
			"(over TLS and on FastCGI and uwsgi sockets, each socket's next connection waits in the kernel's queue; 0: no limit)")
	fs.IntVar(&c.maxConnections, "worker-connections", 1000, "alias of --max-connections")
	fs.IntVar(&c.queueSize, "queue-size", 1024,
		"requests that may wait for a free Python thread; more are answered 503 with Retry-After")
	c.queueTimeout = 30 * time.Second
	fs.Var(seconds{&c.queueTimeout}, "queue-timeout",
		"longest wait for a free Python thread, in seconds, before answering 503 with Retry-After (0: no limit)")
	fs.StringVar(&c.scriptName, "script-name", os.Getenv("SCRIPT_NAME"),
		"mount prefix: SCRIPT_NAME of every request (default $SCRIPT_NAME, as gunicorn)")
	fs.BoolVar(&c.validate, "validate", false,
		"check the application strictly against PEP 3333 (all of wsgiref.validate and more): each violation is "+
			"logged with the rule and the application's file and line, and answered 500; for development and tests")
	addDevFlags(fs, &c.dev)
	fs.BoolVar(&c.checkConfig, "check-config", false, "load the configuration and the application, then exit: 0 if both load, 1 if not")
	fs.BoolVar(&c.printConfig, "print-config", false,
		"print every setting with its value and where it came from, then check as --check-config does")
	fs.MarkHidden("log-file")
	fs.MarkHidden("limit-request-field-size")
	fs.MarkHidden("worker-connections")
	addUnsupportedFlags(fs, c)
}

// addUnsupportedFlags accepts gunicorn's command-line settings that gowsgi
// does not do, hidden from --help: resolve explains each one used
// (a warning, or an error), instead of a bare "unknown flag".
func addUnsupportedFlags(fs *pflag.FlagSet, c *settings) {
	c.unsupported = map[string][]string{}
	for i := range config.All {
		s := &config.All[i]
		if s.Support == config.Works || len(s.CLI) == 0 {
			continue
		}
		long, short := "", ""
		for _, spelling := range s.CLI {
			switch {
			case strings.HasPrefix(spelling, "--") && long == "":
				long = spelling[2:]
			case strings.HasPrefix(spelling, "--"):
				alias := fs.VarPF(recorder{c.unsupported, s.Name}, spelling[2:], "", "alias")
				alias.NoOptDefVal, alias.Hidden = s.NoValue, true
			default:
				short = spelling[1:]
			}
		}
		f := fs.VarPF(recorder{c.unsupported, s.Name}, long, short, s.Reason)
		f.NoOptDefVal, f.Hidden = s.NoValue, true
	}
}

// recorder keeps the values given to a setting gowsgi does not do.
type recorder struct {
	m    map[string][]string
	name string
}

func (r recorder) String() string     { return strings.Join(r.m[r.name], ",") }
func (r recorder) Set(v string) error { r.m[r.name] = append(r.m[r.name], v); return nil }
func (r recorder) Type() string       { return "string" }

// seconds is a flag of seconds, "30" or "1.5", as gunicorn's timeouts
// are; Go's "30s" and "1m" are read too.
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil {
		return "0"
	}
	return strconv.FormatFloat(s.d.Seconds(), 'f', -1, 64)
}

func (s seconds) Set(v string) error {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || f > 1e9 {
			return fmt.Errorf("%s: expected seconds, zero or more", v)
		}
		*s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%s: expected seconds, such as 30 or 1.5", v)
	}
	*s.d = d
	return nil
}

func (s seconds) Type() string { return "seconds" }

// octal is a whole number written as gunicorn's --umask takes it: 18, 022,
// 0o22 or 0x12.
type octal struct{ n *int64 }

func (o octal) String() string {
	if o.n == nil {
		return "0"
	}
	return fmt.Sprintf("0o%03o", *o.n)
}

func (o octal) Set(v string) error {
	n, err := config.ParseInt(v)
	if err != nil || n < 0 || n > 0o777 {
		return fmt.Errorf("%s: expected a file mode mask such as 022 (0 to 0o777)", v)
	}
	*o.n = n
	return nil
}

func (o octal) Type() string { return "mask" }

// envName is the environment variable of a flag: GOWSGI_LIMIT_REQUEST_FIELD_SIZE.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.NewReplacer("-", "_").Replace(flag))
}

// applyEnv sets every flag not given on the command line from its
// GOWSGI_ environment variable, and notes where each came from.
func applyEnv(fs *pflag.FlagSet, from map[string]string) error {
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
			return
		}
		if from != nil {
			from[f.Name] = "environment " + envName(f.Name)
		}
	})
	return err
}
