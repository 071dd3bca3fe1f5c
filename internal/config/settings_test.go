package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gunicorn's settings, release 26.1 (gunicorn/config.py), in its order.
var gunicorn = []string{
	"config", "wsgi_app", "bind", "backlog", "workers", "worker_class", "threads",
	"worker_connections", "max_requests", "max_requests_jitter", "timeout", "graceful_timeout",
	"keepalive", "limit_request_line", "limit_request_fields", "limit_request_field_size", "reload",
	"reload_engine", "reload_extra_files", "spew", "check_config", "print_config", "preload_app",
	"sendfile", "reuse_port", "chdir", "daemon", "raw_env", "pidfile", "worker_tmp_dir", "user",
	"group", "umask", "initgroups", "tmp_upload_dir", "secure_scheme_headers", "forwarded_allow_ips",
	"accesslog", "disable_redirect_access_to_syslog", "access_log_format", "errorlog", "loglevel",
	"capture_output", "logger_class", "logconfig", "logconfig_dict", "logconfig_json", "syslog_addr",
	"syslog", "syslog_prefix", "syslog_facility", "enable_stdio_inheritance", "statsd_host",
	"dogstatsd_tags", "statsd_prefix", "enable_backlog_metric", "proc_name", "default_proc_name",
	"pythonpath", "paste", "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork",
	"post_worker_init", "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request",
	"child_exit", "worker_exit", "nworkers_changed", "on_exit", "ssl_context", "proxy_protocol",
	"proxy_allow_ips", "protocol", "uwsgi_allow_ips", "keyfile", "certfile", "ssl_version",
	"cert_reqs", "ca_certs", "suppress_ragged_eofs", "do_handshake_on_connect", "ciphers",
	"http_protocols", "http2_cleartext", "http2_max_concurrent_streams", "http2_initial_window_size",
	"http2_max_frame_size", "http2_max_header_list_size", "raw_paste_global_conf",
	"permit_obsolete_folding", "strip_header_spaces", "permit_unconventional_http_method",
	"permit_unconventional_http_version", "casefold_http_method", "forwarder_headers", "header_map",
	"asgi_loop", "asgi_lifespan", "asgi_disconnect_grace_period", "http_parser", "root_path",
	"dirty_apps", "dirty_workers", "dirty_timeout", "dirty_threads", "dirty_graceful_timeout",
	"on_dirty_starting", "dirty_post_fork", "dirty_worker_init", "dirty_worker_exit", "control_socket",
	"control_socket_mode", "control_socket_disable",
}

// Every gunicorn setting is known, in gunicorn's order, and each one gowsgi
// does not do says why; each working one has a flag or is a file's own.
func TestEveryGunicornSetting(t *testing.T) {
	if len(gunicorn) != 119 {
		t.Fatalf("the list holds %d settings", len(gunicorn))
	}
	var ours []string
	for _, s := range All {
		if s.Gunicorn {
			ours = append(ours, s.Name)
		}
		if s.Support != Works && s.Reason == "" {
			t.Errorf("%s is %v without a reason", s.Name, s.Support)
		}
		if s.Support == Works && s.Kind != Hook && s.Kind != Dict && s.Flag == "" && s.Name != "wsgi_app" && s.Name != "config" {
			t.Errorf("%s works, but through no flag", s.Name)
		}
	}
	if strings.Join(ours, " ") != strings.Join(gunicorn, " ") {
		t.Errorf("gunicorn's settings differ from the table:\n got %v\nwant %v", ours, gunicorn)
	}
	for _, h := range Hooks {
		if s, ok := Lookup(h.Name); !ok || s.Kind != Hook || s.Support != Works {
			t.Errorf("hook %s is not a working hook setting", h.Name)
		}
	}
}

// docs/migrating-from-gunicorn.md has a row for every gunicorn setting,
// saying what the table says.
func TestMigrationGuideCoversEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "migrating-from-gunicorn.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
		rows[name] = line
	}
	for _, s := range All {
		if !s.Gunicorn {
			continue
		}
		row, ok := rows[s.Name]
		if !ok {
			t.Errorf("no row for %s", s.Name)
			continue
		}
		switch s.Support {
		case Works:
			if s.Flag != "" && !strings.Contains(row, "`--"+s.Flag+"`") {
				t.Errorf("the row of %s does not name --%s: %s", s.Name, s.Flag, row)
			}
		case Ignored, Refused:
			if !strings.Contains(row, s.Support.String()) || !strings.Contains(row, s.Reason) {
				t.Errorf("the row of %s does not say %s: %s: %s", s.Name, s.Support, s.Reason, row)
			}
		}
	}
}

func TestFlagValues(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
		want string
		bad  bool
	}{
		{"workers", int64(4), "4", false},
		{"workers", "0x10", "16", false},
		{"workers", int64(-1), "", true},
		{"workers", 2.5, "", true},
		{"umask", "022", "18", false},
		{"bind", "0.0.0.0:8000", "0.0.0.0:8000", false},
		{"bind", []any{"a:1", "b:2"}, "a:1 b:2", false},
		{"bind", int64(8000), "", true},
		{"reload", "True", "true", false},
		{"reload", "yes", "", true},
		{"user", int64(1000), "1000", false},
		{"queue_timeout", 1.5, "1.5", false},
		{"forwarded_allow_ips", []any{"10.0.0.1", "::1"}, "10.0.0.1,::1", false},
	} {
		s, _ := Lookup(c.name)
		vals, err := s.FlagValues(c.v)
		if (err != nil) != c.bad || strings.Join(vals, " ") != c.want {
			t.Errorf("%s = %v: %q, %v", c.name, c.v, vals, err)
		}
	}
}

func TestIsDefault(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
		want bool
	}{
		{"daemon", false, true}, {"daemon", "false", true}, {"daemon", true, false}, {"daemon", nil, true},
		{"worker_connections", int64(1000), true}, {"worker_connections", "1000", true}, {"worker_connections", int64(10), false},
		{"logconfig_dict", map[string]any{}, true}, {"logconfig_dict", map[string]any{"version": int64(1)}, false},
		{"statsd_host", "", true}, {"statsd_host", "localhost:8125", false},
		{"sendfile", true, true}, {"sendfile", "false", false},
	} {
		s, _ := Lookup(c.name)
		if got := s.IsDefault(c.v); got != c.want {
			t.Errorf("%s = %#v: IsDefault %v", c.name, c.v, got)
		}
	}
}

func TestReadTOML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gowsgi.toml")
	os.WriteFile(path, []byte(`bind = ["127.0.0.1:9000", "unix:/tmp/x.sock"]
workers = 3
preload_app = true
on_starting = "deploy.hooks.on_starting"

[secure_scheme_headers]
X-FORWARDED-PROTO = "https"
`), 0o644)
	f, err := ReadTOML(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Values["workers"] != int64(3) || f.Values["preload_app"] != true || f.Hooks["on_starting"] != "deploy.hooks.on_starting" {
		t.Errorf("%+v", f)
	}
	if d, err := (&Setting{Name: "secure_scheme_headers", Kind: Dict}).Dict(f.Values["secure_scheme_headers"]); err != nil || d["X-FORWARDED-PROTO"] != "https" {
		t.Errorf("secure_scheme_headers: %v %v", d, err)
	}
	os.WriteFile(path, []byte("worker = 3\n"), 0o644)
	if _, err := ReadTOML(path); err == nil || !strings.Contains(err.Error(), "did you mean workers?") {
		t.Errorf("a misspelt name: %v", err)
	}
	os.WriteFile(path, []byte("workers = \n"), 0o644)
	if _, err := ReadTOML(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad TOML: %v", err)
	}
	os.WriteFile(path, []byte("on_exit = 3\n"), 0o644)
	if _, err := ReadTOML(path); err == nil || !strings.Contains(err.Error(), "dotted name") {
		t.Errorf("a hook that is no name: %v", err)
	}
}
