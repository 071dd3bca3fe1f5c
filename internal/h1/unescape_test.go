package h1

import (
	"bytes"
	"testing"
)

func TestAppendUnescaped(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"/", "/"},
		{"/plain/path", "/plain/path"},
		{"/a%20b", "/a b"},
		{"%41%42%43", "ABC"},
		{"%4a%4A%6f%6F", "JJoo"},
		{"%ab%AB%aB%Ab", "\xab\xab\xab\xab"},
		{"%FF", "\xff"},
		{"%ff", "\xff"},
		{"%00", "\x00"},
		{"%2F", "/"},
		{"/a%2fb", "/a/b"},
		{"%25", "%"},
		{"%2541", "%41"}, // decoded once only
		{"a+b", "a+b"},
		{"%2B", "+"},
		{"/caf%C3%A9", "/caf\xc3\xa9"},
		{"/\xc3\xa9", "/\xc3\xa9"},
		{"/end%41", "/endA"},
	}
	for _, tt := range tests {
		got, ok := AppendUnescaped(nil, []byte(tt.in))
		if !ok || string(got) != tt.want {
			t.Errorf("AppendUnescaped(nil, %q) = %q, %v; want %q, true", tt.in, got, ok, tt.want)
		}
	}
}

func TestAppendUnescapedInvalid(t *testing.T) {
	for _, in := range []string{
		"%zz", "%", "%4", "/a%", "/a%4", "%g0", "%0g", "%%41", "%41%", "%41%4", "% 1", "%-1", "%+1", "%\xff\xff",
	} {
		if got, ok := AppendUnescaped(nil, []byte(in)); ok {
			t.Errorf("AppendUnescaped(nil, %q) = %q, true; want false", in, got)
		}
	}
}

func TestAppendUnescapedAppends(t *testing.T) {
	dst := make([]byte, 0, 64)
	dst = append(dst, "/prefix"...)
	got, ok := AppendUnescaped(dst, []byte("/x%20y"))
	if !ok || string(got) != "/prefix/x y" {
		t.Fatalf("got %q, %v; want %q, true", got, ok, "/prefix/x y")
	}
	if &got[0] != &dst[:1][0] {
		t.Error("AppendUnescaped did not append in place with room to spare")
	}
	// A dst without room grows and keeps its contents.
	small := []byte("ab")
	got, ok = AppendUnescaped(small[:2:2], []byte("%63d"))
	if !ok || string(got) != "abcd" || string(small) != "ab" {
		t.Errorf("got %q, %v, dst now %q", got, ok, small)
	}
}

func TestAppendUnescapedAllocations(t *testing.T) {
	dst := make([]byte, 0, 64)
	path := []byte("/static/caf%C3%A9/%7Euser/a+b")
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = AppendUnescaped(dst[:0], path)
	})
	if allocs != 0 {
		t.Errorf("AppendUnescaped allocates %v times with room in dst", allocs)
	}
	if !bytes.Equal(dst, []byte("/static/caf\xc3\xa9/~user/a+b")) {
		t.Errorf("got %q", dst)
	}
}
