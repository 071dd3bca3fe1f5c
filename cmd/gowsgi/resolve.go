package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mattn/go-shellwords"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/internal/config"
)

// Where a setting's value comes from, highest first, as gunicorn orders
// them: the command line, GOWSGI_CMD_ARGS then GUNICORN_CMD_ARGS (command
// lines in the environment), the configuration file, the GOWSGI_<FLAG>
// variables, and the defaults ($PORT, $WEB_CONCURRENCY and
// $FORWARDED_ALLOW_IPS change those).
const (
	fromCommandLine = "command line"
	fromDefault     = "default"
)

// cmdArgsVariables hold command lines, the first winning.
var cmdArgsVariables = []string{"GOWSGI_CMD_ARGS", "GUNICORN_CMD_ARGS"}

// defaultConfigFile is read when no -c is given, as by gunicorn 20 and later.
const defaultConfigFile = "gunicorn.conf.py"

// resolved is a server's configuration with the origin of each value.
type resolved struct {
	s    *settings
	fs   *pflag.FlagSet
	spec string // the application
	// from maps a flag (or a setting of files only) to where its value
	// came from; absent: the default.
	from map[string]string
	file *config.File // nil without a configuration file
	// hooks maps each hook defined to what defines it.
	hooks map[string]string
	// helper read the Python configuration file; it runs the master's
	// hooks. nil for a TOML file or none.
	helper *helper
	notes  []string // for the log, once it is open: what was read
	warns  []string // settings ignored, names that are not settings
}

// resolve completes the settings the command line gave (fs, already
// parsed) from the other sources, in gunicorn's order.
func resolve(fs *pflag.FlagSet, s *settings, spec string) (*resolved, error) {
	r := &resolved{s: s, fs: fs, spec: spec, from: map[string]string{}, hooks: map[string]string{}}
	fs.Visit(func(f *pflag.Flag) { r.from[f.Name] = fromCommandLine })
	for k := range s.unsupported {
		r.from[k] = fromCommandLine
	}
	if err := r.applyCmdArgs(); err != nil {
		return nil, err
	}
	if err := r.readConfigFile(); err != nil {
		r.close()
		return nil, err
	}
	if err := applyEnv(fs, r.from); err != nil {
		r.close()
		return nil, err
	}
	r.applyPlatformDefaults()
	if err := r.explainUnsupported(); err != nil {
		r.close()
		return nil, err
	}
	if r.spec == "" {
		r.spec = s.wsgiApp
	}
	if r.spec == "" {
		r.close()
		return nil, errors.New("no application: name it (MODULE:CALLABLE), or set wsgi_app in the configuration file")
	}
	return r, nil
}

// close stops the helper process, if any.
func (r *resolved) close() {
	if r.helper != nil {
		r.helper.close()
		r.helper = nil
	}
}

// applyCmdArgs takes the settings of GOWSGI_CMD_ARGS and GUNICORN_CMD_ARGS
// that the command line does not give.
func (r *resolved) applyCmdArgs() error {
	for _, name := range cmdArgsVariables {
		line, ok := os.LookupEnv(name)
		if !ok || strings.TrimSpace(line) == "" {
			continue
		}
		words, err := shellwords.Parse(line)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		scratch := pflag.NewFlagSet(name, pflag.ContinueOnError)
		scratch.SetOutput(discard{})
		var env settings
		addServeFlags(scratch, &env)
		if err := scratch.Parse(words); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if scratch.NArg() > 0 {
			r.warns = append(r.warns, fmt.Sprintf("%s: %q ignored: the application is named on the command line (or wsgi_app)", name, scratch.Args()))
		}
		var err2 error
		scratch.Visit(func(f *pflag.Flag) {
			if err2 != nil || r.fs.Changed(f.Name) {
				return
			}
			for _, v := range flagValues(f) {
				if err := r.fs.Set(f.Name, v); err != nil {
					err2 = fmt.Errorf("%s: --%s: %w", name, f.Name, err)
					return
				}
			}
			r.from[f.Name] = name
		})
		if err2 != nil {
			return err2
		}
		for k, v := range env.unsupported {
			if _, ok := r.s.unsupported[k]; !ok {
				r.s.unsupported[k] = v
				r.from[k] = name
			}
		}
	}
	return nil
}

// flagValues are the values of a flag as the command line would give them.
func flagValues(f *pflag.Flag) []string {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	return []string{f.Value.String()}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// configPath is the configuration file to read: -c (from the command line
// or a CMD_ARGS variable), else ./gunicorn.conf.py if it exists.
func (r *resolved) configPath() (string, bool, error) {
	if r.s.configFile != "" {
		return r.s.configFile, false, nil
	}
	// GOWSGI_CONFIG names the file too: it cannot wait for the GOWSGI_*
	// variables, which come below the file it names.
	if v := os.Getenv(envName("config")); v != "" {
		if err := r.fs.Set("config", v); err != nil {
			return "", false, err
		}
		r.from["config"] = "environment " + envName("config")
		return v, false, nil
	}
	if fi, err := os.Stat(defaultConfigFile); err == nil && !fi.IsDir() {
		return "./" + defaultConfigFile, true, nil
	}
	return "", false, nil
}

func (r *resolved) readConfigFile() error {
	path, found, err := r.configPath()
	if err != nil || path == "" {
		return err
	}
	if found {
		r.from["config"] = "found in the working directory"
		r.s.configFile = path
	}
	location := path
	if !strings.HasPrefix(path, "python:") {
		name := strings.TrimPrefix(path, "file:")
		abs, err := filepath.Abs(name)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("config file %s: %w", name, errors.Unwrap(err))
		}
		// The workers read it again, after --chdir.
		location = abs
	}
	var f *config.File
	if strings.HasSuffix(location, ".toml") {
		f, err = config.ReadTOML(location)
	} else {
		r.helper, f, err = readPythonConfig(location, r.s)
	}
	if err != nil {
		return err
	}
	f.Path = location
	r.file = f
	r.notes = append(r.notes, "Reading configuration from "+path)
	return r.applyFile(f, "config file "+path)
}

// applyFile takes the file's settings that nothing above it gives.
func (r *resolved) applyFile(f *config.File, origin string) error {
	names := make([]string, 0, len(f.Values))
	for k := range f.Values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := f.Values[name]
		st, ok := config.Lookup(name)
		if !ok || name == "config" {
			continue // gunicorn ignores config in a configuration file
		}
		if st.Support != config.Works {
			if !st.IsDefault(v) {
				if _, given := r.s.unsupported[name]; !given {
					r.s.unsupported[name] = []string{fmt.Sprint(v)}
					r.from[name] = origin
				}
			}
			continue
		}
		switch {
		case st.Kind == config.Dict:
			if _, ok := r.from[name]; ok {
				continue
			}
			d, err := st.Dict(v)
			if err != nil {
				return fmt.Errorf("%s: %w", origin, err)
			}
			r.s.secureSchemeHeaders = d
			r.from[name] = origin
		case st.Flag == "":
			if name == "wsgi_app" {
				vals, err := st.FlagValues(v)
				if err != nil {
					return fmt.Errorf("%s: %w", origin, err)
				}
				if len(vals) > 0 {
					r.s.wsgiApp = vals[0]
					r.from[name] = origin
				}
			}
		default:
			if r.fs.Changed(st.Flag) {
				continue
			}
			vals, err := st.FlagValues(v)
			if err != nil {
				return fmt.Errorf("%s: %w", origin, err)
			}
			for _, val := range vals {
				if err := r.fs.Set(st.Flag, val); err != nil {
					return fmt.Errorf("%s: %s = %s: %w", origin, name, val, err)
				}
			}
			if len(vals) > 0 {
				r.from[st.Flag] = origin
			}
		}
	}
	for name, def := range f.Hooks {
		st, _ := config.Lookup(name)
		if st != nil && st.Support != config.Works {
			r.s.unsupported[name] = []string{def}
			r.from[name] = origin
			continue
		}
		r.hooks[name] = def
		r.from[name] = origin
	}
	for _, name := range f.Unknown {
		if hint := config.Suggest(name); hint != "" {
			r.warns = append(r.warns, fmt.Sprintf("%s: %q is not a setting (did you mean %s?); ignored", origin, name, hint))
		}
	}
	return nil
}

// applyPlatformDefaults: what hosting platforms set changes gunicorn's
// defaults, below every other source.
func (r *resolved) applyPlatformDefaults() {
	set := func(flag, variable, value string) {
		if r.fs.Changed(flag) || value == "" {
			return
		}
		if r.fs.Set(flag, value) == nil {
			r.from[flag] = "$" + variable
		}
	}
	set("bind", "PORT", prefixed("0.0.0.0:", os.Getenv("PORT")))
	set("workers", "WEB_CONCURRENCY", os.Getenv("WEB_CONCURRENCY"))
	set("forwarded-allow-ips", "FORWARDED_ALLOW_IPS", os.Getenv("FORWARDED_ALLOW_IPS"))
}

func prefixed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

// explainUnsupported warns of each gunicorn setting given that gowsgi
// ignores, and refuses those it cannot do.
func (r *resolved) explainUnsupported() error {
	names := make([]string, 0, len(r.s.unsupported))
	for k := range r.s.unsupported {
		names = append(names, k)
	}
	sort.Strings(names)
	var refused []string
	for _, name := range names {
		st, _ := config.Lookup(name)
		vals := r.s.unsupported[name]
		if st.Kind != config.Hook && len(vals) > 0 && st.IsDefault(vals[len(vals)-1]) {
			continue
		}
		line := st.Explain() + " (" + r.from[name] + ")"
		if st.Support == config.Refused {
			refused = append(refused, line)
		} else {
			r.warns = append(r.warns, line)
		}
	}
	if len(refused) > 0 {
		return errors.New(strings.Join(refused, "\n"))
	}
	return nil
}

// origin says where a flag's value came from.
func (r *resolved) origin(flag string) string {
	if o, ok := r.from[flag]; ok {
		return o
	}
	return fromDefault
}
