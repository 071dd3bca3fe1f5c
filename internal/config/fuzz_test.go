package config

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzTOML reads arbitrary configuration files: an error or settings,
// never a panic, and every value read converts to flag values or fails
// with an error, as the command does with it.
func FuzzTOML(f *testing.F) {
	for _, s := range []string{
		"bind = [\"0.0.0.0:8000\"]\nworkers = 4\nraw_env = [\"A=b\"]\non_starting = \"deploy.hooks.on_starting\"\n\n[secure_scheme_headers]\nX-FORWARDED-PROTO = \"https\"\n",
		"timeout = 30.5\numask = \"022\"\nlimit_request_line = 8190\n",
		"daemon = false\nworkers = \"0x10\"\n",
		"bindd = 1\n",
		"on_exit = 3\n",
		"bind = [1, [2]]\n",
		"[secure_scheme_headers]\nA = 1\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := ReadTOML(path)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: an empty error", data)
			}
			return
		}
		for name, v := range file.Values {
			s, ok := Lookup(name)
			if !ok {
				t.Fatalf("%q: %s read but no setting", data, name)
			}
			s.IsDefault(v)
			if s.Kind == Dict {
				s.Dict(v)
				continue
			}
			vals, err := s.FlagValues(v)
			if err == nil && s.Kind == Int {
				for _, fv := range vals {
					if _, err := ParseInt(fv); err != nil {
						t.Fatalf("%q: %s's flag value %q does not parse: %v", data, name, fv, err)
					}
				}
			}
		}
	})
}

// FuzzParseInt: a whole number as gunicorn reads it; what parses is
// printed back to the same number.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "022", "0x1F", "0o17", "0b101", "1_000", " 7 ", "-5", "+5", "08", "", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseInt(s)
		if err != nil {
			return
		}
		if m, err := ParseInt(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("ParseInt(%q) = %d, but of %d: %d, %v", s, n, n, m, err)
		}
	})
}
