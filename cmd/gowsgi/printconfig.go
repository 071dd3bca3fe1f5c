package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/config"
)

// printConfig writes every setting, its value and where the value came
// from (--print-config), by the names configuration files use: what the
// server would run with.
func printConfig(w io.Writer, r *resolved) {
	type line struct{ name, value, from string }
	var lines []line
	for _, st := range config.All {
		if st.Support != config.Works {
			continue
		}
		switch {
		case st.Kind == config.Hook:
			if def, ok := r.hooks[st.Name]; ok {
				lines = append(lines, line{st.Name, def, r.origin(st.Name)})
			}
		case st.Flag != "":
			f := r.fs.Lookup(st.Flag)
			if f == nil {
				continue
			}
			lines = append(lines, line{st.Name, pythonValue(typedValue(f)), r.origin(st.Flag)})
		case st.Name == "secure_scheme_headers":
			v := r.s.secureSchemeHeaders
			if v == nil {
				v = map[string]string{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
			}
			lines = append(lines, line{st.Name, pythonValue(v), r.origin(st.Name)})
		case st.Name == "wsgi_app":
			from := r.origin(st.Name)
			if r.spec != r.s.wsgiApp {
				from = fromCommandLine
			}
			lines = append(lines, line{st.Name, pythonValue(r.spec), from})
		}
	}
	for name, vals := range r.s.unsupported {
		st, _ := config.Lookup(name)
		lines = append(lines, line{name, strings.Join(vals, ","), r.origin(name) + "; " + st.Support.String() + ": " + st.Reason})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].name < lines[j].name })
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%-*s = %s  # %s\n", width, l.name, l.value, l.from)
	}
}

// pythonValue writes a value as Python would.
func pythonValue(v any) string {
	switch x := v.(type) {
	case string:
		return pyQuote(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case []string:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyQuote(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyQuote(k) + ": " + pyQuote(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func pyQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
