package config

import (
	"fmt"
	"sort"

	"github.com/BurntSushi/toml"
)

// ReadTOML reads a TOML configuration file: the settings by their
// configuration-file names at the top level,
//
//	bind = ["0.0.0.0:8000"]
//	workers = 4
//	raw_env = ["DJANGO_SETTINGS_MODULE=site.settings"]
//	on_starting = "deploy.hooks.on_starting"
//
//	[secure_scheme_headers]
//	X-FORWARDED-PROTO = "https"
//
// with hooks as the dotted names of functions. A name that is no setting
// is an error: a data file has no helper variables.
func ReadTOML(path string) (*File, error) {
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	f := &File{Path: path, Values: map[string]any{}, Hooks: map[string]string{}}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := Normalize(raw[name])
		s, ok := Lookup(name)
		if !ok {
			msg := fmt.Sprintf("config file %s: %q is not a setting", path, name)
			if hint := Suggest(name); hint != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", hint)
			}
			return nil, fmt.Errorf("%s", msg)
		}
		if s.Kind == Hook {
			dotted, ok := v.(string)
			if !ok || dotted == "" {
				return nil, fmt.Errorf("config file %s: hook %s must be the dotted name of a function, such as \"mypackage.hooks.%s\"", path, name, name)
			}
			f.Hooks[name] = dotted
			continue
		}
		f.Values[name] = v
	}
	return f, nil
}
