package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/internal/config"
)

// envSettings carries the master's resolved settings to the processes it
// starts (workers, the configuration check): they do not resolve them
// again, so every worker of a server, and every worker after a reload,
// runs with the configuration the master read.
const envSettings = "_GOWSGI_SETTINGS"

// processSettings are the settings a worker receives.
type processSettings struct {
	Flags               map[string][]string `json:"flags"`
	SecureSchemeHeaders map[string]string   `json:"secure_scheme_headers,omitempty"`
	App                 string              `json:"app"`
	// ConfigFile is the Python configuration file that defines worker
	// hooks, run again in each worker; "" for none.
	ConfigFile string `json:"config_file,omitempty"`
	// Hooks maps the worker hooks to run to their dotted names ("" for
	// those the configuration file defines).
	Hooks    map[string]string `json:"hooks,omitempty"`
	Argv     []string          `json:"argv"`     // the server's command line: sys.argv
	StartDir string            `json:"startdir"` // where the server started
	Cfg      map[string]any    `json:"cfg"`      // every setting, for hooks' cfg
}

// forProcesses gathers the settings workers need.
func (r *resolved) forProcesses() processSettings {
	p := processSettings{Flags: map[string][]string{}, SecureSchemeHeaders: r.s.secureSchemeHeaders, App: r.spec,
		Argv: os.Args, Cfg: r.cfgValues()}
	p.StartDir, _ = os.Getwd()
	r.fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed && !f.Hidden {
			p.Flags[f.Name] = flagValues(f)
		}
	})
	for name, def := range r.hooks {
		if config.IsMasterHook(name) {
			continue
		}
		if p.Hooks == nil {
			p.Hooks = map[string]string{}
		}
		if r.file != nil && strings.HasSuffix(r.file.Path, ".toml") {
			p.Hooks[name] = def
		} else {
			p.Hooks[name] = ""
			p.ConfigFile = r.file.Path
		}
	}
	return p
}

// env is the environment entry that carries p.
func (p processSettings) env() string {
	b, _ := json.Marshal(p)
	return envSettings + "=" + string(b)
}

// receiveSettings reads the settings the master passed, and applies them
// to a new set of flags.
func receiveSettings() (*settings, processSettings, error) {
	var p processSettings
	v, ok := os.LookupEnv(envSettings)
	if !ok {
		return nil, p, fmt.Errorf("no %s in the environment", envSettings)
	}
	os.Unsetenv(envSettings) // not for the application's subprocesses
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return nil, p, fmt.Errorf("malformed %s: %w", envSettings, err)
	}
	var s settings
	fs := pflag.NewFlagSet("gowsgi", pflag.ContinueOnError)
	addServeFlags(fs, &s)
	for name, vals := range p.Flags {
		for _, val := range vals {
			if err := fs.Set(name, val); err != nil {
				return nil, p, fmt.Errorf("--%s %q: %w", name, val, err)
			}
		}
	}
	s.secureSchemeHeaders = p.SecureSchemeHeaders
	return &s, p, nil
}

// cfgValues are every setting's value by its configuration-file name,
// for the cfg object hooks receive: gowsgi's values, and gunicorn's
// defaults for the settings gowsgi does not do.
func (r *resolved) cfgValues() map[string]any {
	out := map[string]any{}
	for _, st := range config.All {
		switch {
		case st.Kind == config.Hook:
		case st.Flag != "":
			if f := r.fs.Lookup(st.Flag); f != nil {
				out[st.Name] = typedValue(f)
			}
		case st.Name == "secure_scheme_headers":
			if r.s.secureSchemeHeaders != nil {
				out[st.Name] = r.s.secureSchemeHeaders
			} else {
				out[st.Name] = map[string]string{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
			}
		case st.Name == "wsgi_app":
			out[st.Name] = r.spec
		case st.Name == "default_proc_name":
			out[st.Name] = r.spec
		default:
			out[st.Name] = st.Default
		}
	}
	return out
}

// typedValue is a flag's value as a configuration file would write it.
func typedValue(f *pflag.Flag) any {
	v := f.Value.String()
	switch f.Value.Type() {
	case "int", "int64":
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	case "bool":
		return v == "true"
	case "seconds":
		x, _ := strconv.ParseFloat(v, 64)
		return x
	case "mask":
		n, _ := config.ParseInt(v)
		return n
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	return v
}
