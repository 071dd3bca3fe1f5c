package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// File is what a configuration file sets.
type File struct {
	Path   string
	Values map[string]any // settings other than hooks, by name
	// Hooks maps each hook the file defines to what defines it: a
	// function's description, or the dotted name of one.
	Hooks map[string]string
	// Unknown are names the file defines that are no setting (helper
	// variables, typing mistakes), sorted.
	Unknown []string
}

// Normalize turns the numbers of a decoded value (json.Number, the integer
// types) into int64 or float64, in lists and tables too.
func Normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	}
	return v
}

// IsDefault tells whether v is gunicorn's default for s (nil, Python's
// None, counts as the default too): a file that sets a setting gowsgi does
// not do to its default asks for nothing.
func (s *Setting) IsDefault(v any) bool {
	if v == nil {
		return true
	}
	if s.Default == nil {
		switch x := v.(type) {
		case string:
			return x == ""
		case []any:
			return len(x) == 0
		case map[string]any:
			return len(x) == 0
		}
		return false
	}
	if b, ok := s.Default.(bool); ok {
		if str, ok := v.(string); ok {
			return strings.EqualFold(strings.TrimSpace(str), strconv.FormatBool(b))
		}
	}
	if i, ok := s.Default.(int64); ok {
		if str, ok := v.(string); ok {
			n, err := ParseInt(str)
			return err == nil && n == i
		}
	}
	return reflect.DeepEqual(Normalize(v), s.Default)
}

// FlagValues converts a configuration-file value of a working setting to
// what its flag takes on the command line, one string per value. A nil
// value (Python's None) sets nothing.
func (s *Setting) FlagValues(v any) ([]string, error) {
	v = Normalize(v)
	if v == nil {
		return nil, nil
	}
	bad := func(want string) error {
		return fmt.Errorf("setting %s: %s, not %s", s.Name, want, describe(v))
	}
	switch s.Kind {
	case String:
		switch x := v.(type) {
		case string:
			return []string{strings.TrimSpace(x)}, nil
		case int64:
			if s.Name == "user" || s.Name == "group" {
				return []string{strconv.FormatInt(x, 10)}, nil
			}
		case bool:
			if s.Name == "proxy_protocol" { // gunicorn: True is auto
				return []string{map[bool]string{true: "auto", false: "off"}[x]}, nil
			}
		case []any:
			if s.Name == "forwarded_allow_ips" || s.Name == "uwsgi_allow_ips" || s.Name == "proxy_allow_ips" || s.Name == "http_protocols" {
				parts, err := stringList(x)
				if err != nil {
					return nil, bad("a string")
				}
				return []string{strings.Join(parts, ",")}, nil
			}
		}
		return nil, bad("a string")
	case Int:
		switch x := v.(type) {
		case int64:
			if x < 0 {
				return nil, fmt.Errorf("setting %s: must be positive, not %d", s.Name, x)
			}
			return []string{strconv.FormatInt(x, 10)}, nil
		case bool:
			if x {
				return []string{"1"}, nil
			}
			return []string{"0"}, nil
		case string:
			n, err := ParseInt(x)
			if err != nil || n < 0 {
				return nil, bad("a whole number, zero or more")
			}
			return []string{strconv.FormatInt(n, 10)}, nil
		}
		return nil, bad("a whole number")
	case Seconds:
		switch x := v.(type) {
		case int64:
			return []string{strconv.FormatInt(x, 10)}, nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, bad("a number of seconds")
			}
			return []string{strconv.FormatFloat(x, 'f', -1, 64)}, nil
		case string:
			return []string{strings.TrimSpace(x)}, nil
		}
		return nil, bad("a number of seconds")
	case Bool:
		switch x := v.(type) {
		case bool:
			return []string{strconv.FormatBool(x)}, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return []string{"true"}, nil
			case "false":
				return []string{"false"}, nil
			}
		}
		return nil, bad("true or false")
	case List:
		switch x := v.(type) {
		case string:
			return []string{strings.TrimSpace(x)}, nil
		case []any:
			parts, err := stringList(x)
			if err != nil {
				return nil, bad("a list of strings")
			}
			return parts, nil
		}
		return nil, bad("a list of strings")
	}
	return nil, fmt.Errorf("setting %s cannot be given this way", s.Name)
}

// Dict reads a table of strings (secure_scheme_headers).
func (s *Setting) Dict(v any) (map[string]string, error) {
	m, ok := Normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("setting %s: a dictionary, not %s", s.Name, describe(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		str, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("setting %s: the value of %q must be a string, not %s", s.Name, k, describe(e))
		}
		out[k] = str
	}
	return out, nil
}

func stringList(list []any) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, e := range list {
		str, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("not a string: %v", e)
		}
		out = append(out, strings.TrimSpace(str))
	}
	return out, nil
}

// ParseInt reads a whole number as gunicorn does: Python's int(x, 0), and
// a leading 0 meaning octal ("022" for a umask).
func ParseInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9' {
		s = "0o" + s[1:]
	}
	return strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		return "a list"
	case map[string]any:
		if r, ok := x["__repr__"].(string); ok && len(x) == 1 {
			return r
		}
		return "a dictionary"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}
