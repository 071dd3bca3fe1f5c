// Package config knows every setting a gunicorn user may bring: the 119 of
// gunicorn's config.py (release 26.1) and gowsgi's own. For each it says
// how a configuration file names it, which gowsgi flag carries it, and
// whether gowsgi does it, ignores it with a warning, or refuses it, with
// the reason. It reads TOML configuration files; Python ones are read by
// the embedded interpreter (internal/pyhooks).
package config

import (
	"fmt"
	"sort"
)

// Kind is the type of a setting's value in a configuration file.
type Kind int

const (
	String  Kind = iota
	Int          // a whole number (or a string of one, as gunicorn takes it)
	Seconds      // a number of seconds, fractions allowed
	Bool
	List // a list of strings; a single string is a list of one
	Dict // a table of strings (secure_scheme_headers)
	Hook // a callable, or the dotted name of one ("package.module.function")
)

// Support says what gowsgi does with a setting.
type Support int

const (
	Works   Support = iota // a gowsgi setting (maybe with a meaning of its own: Note)
	Ignored                // accepted with a warning naming it and the reason
	Refused                // an error, with the reason: the server does not start
)

func (s Support) String() string {
	return [...]string{"works", "ignored", "refused"}[s]
}

// Setting is one setting.
type Setting struct {
	Name string // as configuration files name it: gunicorn's name, or gowsgi's own in the same style
	// Flag is the gowsgi flag of a working setting; "" for one that only
	// configuration files set.
	Flag     string
	Gunicorn bool // one of gunicorn's settings
	// CLI are gunicorn's command-line spellings of a setting gowsgi does
	// not have: gowsgi accepts them, to answer with the reason.
	CLI  []string
	Kind Kind
	// Support, and for Ignored and Refused settings the reason, one line.
	Support Support
	Reason  string
	// Note, for a working setting, is how it differs from gunicorn's.
	Note string
	// Default is gunicorn's default of a setting gowsgi does not do: a
	// configuration that gives it unchanged asks for nothing.
	Default any
	// NoValue is the value of a command-line spelling given without one
	// ("--daemon"); "" when it needs a value.
	NoValue string
}

// Hooks are the server hooks with the number of arguments gunicorn calls
// them with, and where gowsgi runs them.
var Hooks = []struct {
	Name   string
	Arity  int
	Master bool // run by the master's helper process; else in each worker
}{
	{"on_starting", 1, true},
	{"on_reload", 1, true},
	{"when_ready", 1, true},
	{"pre_fork", 2, true},
	{"post_fork", 2, false},
	{"post_worker_init", 1, false},
	{"worker_int", 1, false},
	{"worker_abort", 1, false},
	{"pre_exec", 1, true},
	{"pre_request", 2, false},
	{"post_request", 4, false},
	{"child_exit", 2, true},
	{"worker_exit", 2, false},
	{"nworkers_changed", 3, true},
	{"on_exit", 1, true},
}

// IsMasterHook tells whether the master runs the named hook.
func IsMasterHook(name string) bool {
	for _, h := range Hooks {
		if h.Name == name {
			return h.Master
		}
	}
	return false
}

const (
	noStatsd   = "gowsgi sends no StatsD metrics"
	noSyslog   = "gowsgi writes its log to --error-logfile (stderr by default, which systemd's journal takes); it has no syslog client"
	noPyLog    = "gowsgi's own log is written in gunicorn's format by Go, not through Python's logging; the application's logging is its own to configure"
	strict     = "gowsgi's HTTP parser is strict and has no lenient mode: such requests are answered 400"
	asgiOnly   = "applies to ASGI workers only; gowsgi serves WSGI"
	noDirty    = "gowsgi has no dirty arbiter: run long tasks in a task queue or a second gowsgi"
	noHTTP2    = "HTTP/2 needs TLS here (--certfile): with TLS gowsgi offers it through Go's net/http, with its own limits"
	noControl  = "gowsgi has no control socket: its signals do the same (HUP, TTIN, TTOU, USR1; docs/deployment.md)"
	pasteHint  = "gowsgi loads MODULE:CALLABLE: write a module with app = paste.deploy.loadapp('config:/path/to.ini') and serve module:app"
	tlsIgnored = "gowsgi's TLS is Go's crypto/tls, which has no such option"
)

// All lists every setting, gunicorn's in the order of its config.py, then
// gowsgi's own.
var All = []Setting{
	{Name: "config", Flag: "config", Gunicorn: true,
		Note: "also a TOML file (*.toml); without -c, ./gunicorn.conf.py is read if present"},
	{Name: "wsgi_app", Gunicorn: true, Note: "the application when the command line names none"},
	{Name: "bind", Flag: "bind", Gunicorn: true, Kind: List,
		Note: "a host name binds every address it resolves to; 0.0.0.0 is IPv4 only, [::] and :PORT are IPv4 and IPv6"},
	{Name: "backlog", Flag: "backlog", Gunicorn: true, Kind: Int},
	{Name: "workers", Flag: "workers", Gunicorn: true, Kind: Int, Note: "default $WEB_CONCURRENCY, else 1"},
	{Name: "worker_class", Flag: "worker-class", Gunicorn: true,
		Note: "sync and gthread are accepted, both meaning Python threads in each worker (--threads); an asynchronous worker class is refused"},
	{Name: "threads", Flag: "threads", Gunicorn: true, Kind: Int},
	{Name: "worker_connections", Flag: "max-connections", Gunicorn: true, Kind: Int, Default: int64(1000),
		Note: "the connections each worker serves at once (--worker-connections is accepted too); one more gets 503 and is closed (over TLS, FastCGI and uwsgi it waits in the kernel's queue)"},
	{Name: "max_requests", Flag: "max-requests", Gunicorn: true, Kind: Int},
	{Name: "max_requests_jitter", Flag: "max-requests-jitter", Gunicorn: true, Kind: Int},
	{Name: "timeout", Flag: "timeout", Gunicorn: true, Kind: Int,
		Note: "bounds each request's Python code (504 past it), not a worker's silence; a worker whose thread does not come back is replaced"},
	{Name: "graceful_timeout", Flag: "graceful-timeout", Gunicorn: true, Kind: Int},
	{Name: "keepalive", Flag: "keep-alive", Gunicorn: true, Kind: Int},
	{Name: "limit_request_line", Flag: "limit-request-line", Gunicorn: true, Kind: Int,
		Note: "default 8190, not 4094: RFC 9112 section 3 recommends at least 8000 octets (4094 stays a valid setting)"},
	{Name: "limit_request_fields", Flag: "limit-request-fields", Gunicorn: true, Kind: Int,
		Note: "also bounds the HTTP_* variables of a FastCGI or uwsgi request (431 beyond)"},
	{Name: "limit_request_field_size", Flag: "limit-request-field_size", Gunicorn: true, Kind: Int},
	{Name: "reload", Flag: "reload", Gunicorn: true, Kind: Bool},
	{Name: "reload_engine", Gunicorn: true, CLI: []string{"--reload-engine"}, Default: "auto", Support: Ignored,
		Reason: "gowsgi always watches with inotify"},
	{Name: "reload_extra_files", Flag: "reload-extra-file", Gunicorn: true, Kind: List,
		Note: "glob patterns are expanded when the server starts"},
	{Name: "spew", Gunicorn: true, CLI: []string{"--spew"}, Kind: Bool, Default: false, NoValue: "true", Support: Ignored,
		Reason: "gowsgi has no line tracer; trace with sys.settrace in the application"},
	{Name: "check_config", Flag: "check-config", Gunicorn: true, Kind: Bool},
	{Name: "print_config", Flag: "print-config", Gunicorn: true, Kind: Bool},
	{Name: "preload_app", Flag: "preload", Gunicorn: true, Kind: Bool,
		Note: "workers are new processes, not forks, so no memory is shared: the first worker imports the application before the others start"},
	{Name: "sendfile", Gunicorn: true, CLI: []string{"--no-sendfile"}, Kind: Bool, Default: true, NoValue: "false", Support: Ignored,
		Reason: "gowsgi always sends a wsgi.file_wrapper of a regular file with sendfile(2)"},
	{Name: "reuse_port", Flag: "reuse-port", Gunicorn: true, Kind: Bool},
	{Name: "chdir", Flag: "chdir", Gunicorn: true},
	{Name: "daemon", Gunicorn: true, CLI: []string{"-D", "--daemon"}, Kind: Bool, Default: false, NoValue: "true", Support: Refused,
		Reason: "gowsgi stays in the foreground: run it under systemd, supervisord or a container runtime"},
	{Name: "raw_env", Flag: "env", Gunicorn: true, Kind: List},
	{Name: "pidfile", Flag: "pid", Gunicorn: true},
	{Name: "worker_tmp_dir", Flag: "worker-tmp-dir", Gunicorn: true,
		Note: "checked to be a directory; gowsgi's workers keep no heartbeat file (they report to the master over a pipe)"},
	{Name: "user", Flag: "user", Gunicorn: true},
	{Name: "group", Flag: "group", Gunicorn: true},
	{Name: "umask", Flag: "umask", Gunicorn: true, Kind: Int, Note: "applies to the Unix socket files gowsgi creates, as in gunicorn"},
	{Name: "initgroups", Flag: "initgroups", Gunicorn: true, Kind: Bool},
	{Name: "tmp_upload_dir", Flag: "tmp-upload-dir", Gunicorn: true,
		Note: "where request bodies too large for memory are spooled (unlinked files)"},
	{Name: "secure_scheme_headers", Gunicorn: true, Kind: Dict},
	{Name: "forwarded_allow_ips", Flag: "forwarded-allow-ips", Gunicorn: true, Note: "default $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1"},
	{Name: "accesslog", Flag: "access-logfile", Gunicorn: true},
	{Name: "disable_redirect_access_to_syslog", Gunicorn: true, CLI: []string{"--disable-redirect-access-to-syslog"}, Kind: Bool,
		Default: false, NoValue: "true", Support: Ignored, Reason: noSyslog},
	{Name: "access_log_format", Flag: "access-logformat", Gunicorn: true},
	{Name: "errorlog", Flag: "error-logfile", Gunicorn: true},
	{Name: "loglevel", Flag: "log-level", Gunicorn: true},
	{Name: "capture_output", Flag: "capture-output", Gunicorn: true, Kind: Bool},
	{Name: "logger_class", Gunicorn: true, CLI: []string{"--logger-class"}, Default: "gunicorn.glogging.Logger", Support: Ignored,
		Reason: noPyLog},
	{Name: "logconfig", Gunicorn: true, CLI: []string{"--log-config"}, Support: Ignored, Reason: noPyLog},
	{Name: "logconfig_dict", Gunicorn: true, Kind: Dict, Default: map[string]any{}, Support: Ignored, Reason: noPyLog},
	{Name: "logconfig_json", Gunicorn: true, CLI: []string{"--log-config-json"}, Support: Ignored, Reason: noPyLog},
	{Name: "syslog_addr", Gunicorn: true, CLI: []string{"--log-syslog-to"}, Default: "udp://localhost:514", Support: Ignored, Reason: noSyslog},
	{Name: "syslog", Gunicorn: true, CLI: []string{"--log-syslog"}, Kind: Bool, Default: false, NoValue: "true", Support: Ignored, Reason: noSyslog},
	{Name: "syslog_prefix", Gunicorn: true, CLI: []string{"--log-syslog-prefix"}, Support: Ignored, Reason: noSyslog},
	{Name: "syslog_facility", Gunicorn: true, CLI: []string{"--log-syslog-facility"}, Default: "user", Support: Ignored, Reason: noSyslog},
	{Name: "enable_stdio_inheritance", Gunicorn: true, CLI: []string{"-R", "--enable-stdio-inheritance"}, Kind: Bool, Default: false,
		NoValue: "true", Support: Ignored, Reason: "gowsgi never daemonizes, so its standard streams are always inherited"},
	{Name: "statsd_host", Gunicorn: true, CLI: []string{"--statsd-host"}, Support: Ignored, Reason: noStatsd},
	{Name: "dogstatsd_tags", Gunicorn: true, CLI: []string{"--dogstatsd-tags"}, Default: "", Support: Ignored, Reason: noStatsd},
	{Name: "statsd_prefix", Gunicorn: true, CLI: []string{"--statsd-prefix"}, Default: "", Support: Ignored, Reason: noStatsd},
	{Name: "enable_backlog_metric", Gunicorn: true, CLI: []string{"--enable-backlog-metric"}, Kind: Bool, Default: false, NoValue: "true",
		Support: Ignored, Reason: noStatsd},
	{Name: "proc_name", Flag: "name", Gunicorn: true,
		Note: "process titles \"gowsgi: master [NAME]\" and \"gowsgi: worker [NAME]\", set only when given"},
	{Name: "default_proc_name", Gunicorn: true, Support: Ignored, Reason: "an internal setting of gunicorn's"},
	{Name: "pythonpath", Flag: "pythonpath", Gunicorn: true},
	{Name: "paste", Gunicorn: true, CLI: []string{"--paste", "--paster"}, Support: Refused, Reason: pasteHint},
	{Name: "on_starting", Gunicorn: true, Kind: Hook},
	{Name: "on_reload", Gunicorn: true, Kind: Hook},
	{Name: "when_ready", Gunicorn: true, Kind: Hook},
	{Name: "pre_fork", Gunicorn: true, Kind: Hook},
	{Name: "post_fork", Gunicorn: true, Kind: Hook},
	{Name: "post_worker_init", Gunicorn: true, Kind: Hook},
	{Name: "worker_int", Gunicorn: true, Kind: Hook},
	{Name: "worker_abort", Gunicorn: true, Kind: Hook},
	{Name: "pre_exec", Gunicorn: true, Kind: Hook},
	{Name: "pre_request", Gunicorn: true, Kind: Hook},
	{Name: "post_request", Gunicorn: true, Kind: Hook},
	{Name: "child_exit", Gunicorn: true, Kind: Hook},
	{Name: "worker_exit", Gunicorn: true, Kind: Hook},
	{Name: "nworkers_changed", Gunicorn: true, Kind: Hook},
	{Name: "on_exit", Gunicorn: true, Kind: Hook},
	{Name: "ssl_context", Gunicorn: true, Kind: Hook, Support: Refused,
		Reason: "gowsgi's TLS is Go's crypto/tls, not Python's ssl: use certfile, keyfile, ca_certs and cert_reqs"},
	{Name: "proxy_protocol", Flag: "proxy-protocol", Gunicorn: true,
		Note: "HTTP sockets, plain and TLS; a header from a peer not in proxy_allow_ips is answered 403 (plain) or closes the connection (TLS)"},
	{Name: "proxy_allow_ips", Flag: "proxy-allow-from", Gunicorn: true},
	{Name: "protocol", Flag: "protocol", Gunicorn: true,
		Note: "http or uwsgi, and fcgi: the protocol of the --bind addresses that name none"},
	{Name: "uwsgi_allow_ips", Flag: "uwsgi-allow-from", Gunicorn: true},
	{Name: "keyfile", Flag: "keyfile", Gunicorn: true},
	{Name: "certfile", Flag: "certfile", Gunicorn: true, Note: "TLS through Go's crypto/tls and net/http"},
	{Name: "ssl_version", Gunicorn: true, CLI: []string{"--ssl-version"}, Support: Ignored,
		Reason: "deprecated and ignored by gunicorn too: Go's crypto/tls speaks TLS 1.2 and 1.3"},
	{Name: "cert_reqs", Flag: "cert-reqs", Gunicorn: true, Kind: Int},
	{Name: "ca_certs", Flag: "ca-certs", Gunicorn: true},
	{Name: "suppress_ragged_eofs", Gunicorn: true, CLI: []string{"--suppress-ragged-eofs"}, Kind: Bool, Default: true, NoValue: "true",
		Support: Ignored, Reason: tlsIgnored},
	{Name: "do_handshake_on_connect", Gunicorn: true, CLI: []string{"--do-handshake-on-connect"}, Kind: Bool, Default: false,
		NoValue: "true", Support: Ignored, Reason: tlsIgnored},
	{Name: "ciphers", Gunicorn: true, CLI: []string{"--ciphers"}, Support: Refused,
		Reason: "Go's crypto/tls chooses among its own secure cipher suites and takes no OpenSSL cipher list"},
	{Name: "http_protocols", Flag: "http-protocols", Gunicorn: true, Note: "h2 needs --certfile (ALPN through net/http)"},
	{Name: "http2_cleartext", Gunicorn: true, CLI: []string{"--http2-cleartext"}, Default: "off", Support: Refused,
		Reason: "gowsgi offers HTTP/2 only over TLS (--certfile)"},
	{Name: "http2_max_concurrent_streams", Gunicorn: true, CLI: []string{"--http2-max-concurrent-streams"}, Kind: Int, Default: int64(100),
		Support: Ignored, Reason: noHTTP2},
	{Name: "http2_initial_window_size", Gunicorn: true, CLI: []string{"--http2-initial-window-size"}, Kind: Int, Default: int64(65535),
		Support: Ignored, Reason: noHTTP2},
	{Name: "http2_max_frame_size", Gunicorn: true, CLI: []string{"--http2-max-frame-size"}, Kind: Int, Default: int64(16384),
		Support: Ignored, Reason: noHTTP2},
	{Name: "http2_max_header_list_size", Gunicorn: true, CLI: []string{"--http2-max-header-list-size"}, Kind: Int, Default: int64(65536),
		Support: Ignored, Reason: noHTTP2},
	{Name: "raw_paste_global_conf", Gunicorn: true, CLI: []string{"--paste-global"}, Kind: List, Default: []any{}, Support: Refused,
		Reason: pasteHint},
	{Name: "permit_obsolete_folding", Gunicorn: true, CLI: []string{"--permit-obsolete-folding"}, Kind: Bool, Default: false, NoValue: "true",
		Support: Ignored, Reason: strict},
	{Name: "strip_header_spaces", Gunicorn: true, CLI: []string{"--strip-header-spaces"}, Kind: Bool, Default: false, NoValue: "true",
		Support: Ignored, Reason: strict},
	{Name: "permit_unconventional_http_method", Gunicorn: true, CLI: []string{"--permit-unconventional-http-method"}, Kind: Bool,
		Default: false, NoValue: "true", Support: Ignored, Reason: strict},
	{Name: "permit_unconventional_http_version", Gunicorn: true, CLI: []string{"--permit-unconventional-http-version"}, Kind: Bool,
		Default: false, NoValue: "true", Support: Ignored, Reason: strict},
	{Name: "casefold_http_method", Gunicorn: true, CLI: []string{"--casefold-http-method"}, Kind: Bool, Default: false, NoValue: "true",
		Support: Ignored, Reason: strict},
	{Name: "forwarder_headers", Gunicorn: true, CLI: []string{"--forwarder-headers"}, Default: "SCRIPT_NAME,PATH_INFO", Support: Ignored,
		Reason: "headers whose names hold '_' are dropped from every client, trusted or not: SCRIPT_NAME is --script-name's (or $SCRIPT_NAME)"},
	{Name: "header_map", Gunicorn: true, CLI: []string{"--header-map"}, Default: "drop", Support: Ignored,
		Reason: "gowsgi always drops headers whose names hold '_' (gunicorn's \"drop\")"},
	{Name: "asgi_loop", Gunicorn: true, CLI: []string{"--asgi-loop"}, Default: "auto", Support: Ignored, Reason: asgiOnly},
	{Name: "asgi_lifespan", Gunicorn: true, CLI: []string{"--asgi-lifespan"}, Default: "auto", Support: Ignored, Reason: asgiOnly},
	{Name: "asgi_disconnect_grace_period", Gunicorn: true, CLI: []string{"--asgi-disconnect-grace-period"}, Kind: Int, Default: int64(3),
		Support: Ignored, Reason: asgiOnly},
	{Name: "http_parser", Gunicorn: true, CLI: []string{"--http-parser"}, Default: "auto", Support: Ignored, Reason: asgiOnly},
	{Name: "root_path", Gunicorn: true, CLI: []string{"--root-path"}, Default: "", Support: Ignored,
		Reason: "applies to ASGI workers only; a WSGI application's mount prefix is --script-name"},
	{Name: "dirty_apps", Gunicorn: true, CLI: []string{"--dirty-app"}, Kind: List, Default: []any{}, Support: Refused, Reason: noDirty},
	{Name: "dirty_workers", Gunicorn: true, CLI: []string{"--dirty-workers"}, Kind: Int, Default: int64(0), Support: Refused, Reason: noDirty},
	{Name: "dirty_timeout", Gunicorn: true, CLI: []string{"--dirty-timeout"}, Kind: Int, Default: int64(300), Support: Ignored, Reason: noDirty},
	{Name: "dirty_threads", Gunicorn: true, CLI: []string{"--dirty-threads"}, Kind: Int, Default: int64(1), Support: Ignored, Reason: noDirty},
	{Name: "dirty_graceful_timeout", Gunicorn: true, CLI: []string{"--dirty-graceful-timeout"}, Kind: Int, Default: int64(30),
		Support: Ignored, Reason: noDirty},
	{Name: "on_dirty_starting", Gunicorn: true, Kind: Hook, Support: Ignored, Reason: noDirty},
	{Name: "dirty_post_fork", Gunicorn: true, Kind: Hook, Support: Ignored, Reason: noDirty},
	{Name: "dirty_worker_init", Gunicorn: true, Kind: Hook, Support: Ignored, Reason: noDirty},
	{Name: "dirty_worker_exit", Gunicorn: true, Kind: Hook, Support: Ignored, Reason: noDirty},
	{Name: "control_socket", Gunicorn: true, CLI: []string{"--control-socket"}, Default: "gunicorn.ctl", Support: Ignored, Reason: noControl},
	{Name: "control_socket_mode", Gunicorn: true, CLI: []string{"--control-socket-mode"}, Kind: Int, Default: int64(0o600),
		Support: Ignored, Reason: noControl},
	{Name: "control_socket_disable", Gunicorn: true, CLI: []string{"--no-control-socket"}, Kind: Bool, Default: false, NoValue: "true",
		Support: Ignored, Reason: noControl},

	// gowsgi's own.
	{Name: "virtualenv", Flag: "virtualenv"},
	{Name: "script_name", Flag: "script-name"},
	{Name: "limit_request_body", Flag: "limit-request-body", Kind: Int},
	{Name: "client_body_buffer_size", Flag: "client-body-buffer-size", Kind: Int},
	{Name: "client_body_timeout", Flag: "client-body-timeout", Kind: Seconds},
	{Name: "send_timeout", Flag: "send-timeout", Kind: Seconds},
	{Name: "fastcgi_idle_timeout", Flag: "fastcgi-idle-timeout", Kind: Seconds},
	{Name: "worker_buffer_memory", Flag: "worker-buffer-memory", Kind: Int},
	{Name: "tmp_upload_limit", Flag: "tmp-upload-limit", Kind: Int},
	{Name: "queue_size", Flag: "queue-size", Kind: Int},
	{Name: "queue_timeout", Flag: "queue-timeout", Kind: Seconds},
	{Name: "max_worker_memory", Flag: "max-worker-memory", Kind: Int},
	{Name: "socket_mode", Flag: "socket-mode"},
	{Name: "validate", Flag: "validate", Kind: Bool},
	{Name: "debug", Flag: "debug", Kind: Bool},
}

var byName = func() map[string]*Setting {
	m := make(map[string]*Setting, len(All))
	for i := range All {
		m[All[i].Name] = &All[i]
	}
	return m
}()

// Lookup finds a setting by its configuration-file name.
func Lookup(name string) (*Setting, bool) {
	s, ok := byName[name]
	return s, ok
}

// ByFlag finds the working setting a gowsgi flag carries.
func ByFlag(flag string) (*Setting, bool) {
	for i := range All {
		if All[i].Flag == flag {
			return &All[i], true
		}
	}
	return nil, false
}

// Suggest names the setting closest to a misspelt name, or "".
func Suggest(name string) string {
	best, bestDist := "", 3
	names := make([]string, 0, len(All))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := distance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Explain is the one-line account of a setting gowsgi does not do.
func (s *Setting) Explain() string {
	switch s.Support {
	case Ignored:
		return fmt.Sprintf("setting %s is ignored: %s", s.Name, s.Reason)
	case Refused:
		return fmt.Sprintf("setting %s is not supported: %s", s.Name, s.Reason)
	}
	return ""
}
