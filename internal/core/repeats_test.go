package core

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/h1"
)

// checkRepeats compares rp's links of n names with what pairwise
// comparison gives: entry i repeats an earlier one of the same name (when
// it takes part), and its next is the first later one.
func checkRepeats(t *testing.T, rp *repeats, names [][]byte, takesPart func(i int) bool, same func(a, b []byte) bool) {
	t.Helper()
	for i := range names {
		repeated, next := false, 0
		if takesPart(i) {
			for j := 0; j < i; j++ {
				if takesPart(j) && same(names[j], names[i]) {
					repeated = true
				}
			}
			for j := len(names) - 1; j > i; j-- {
				if takesPart(j) && same(names[j], names[i]) {
					next = j
				}
			}
		}
		if rp.repeated(i) != repeated || rp.next(i) != next {
			t.Fatalf("names %q: entry %d (%q) repeated %v, next %d; want %v, %d",
				names, i, names[i], rp.repeated(i), rp.next(i), repeated, next)
		}
	}
}

// namesOf splits data into names at ';'.
func namesOf(data string) [][]byte {
	var names [][]byte
	for _, s := range strings.Split(data, ";") {
		names = append(names, []byte(s))
	}
	return names
}

func testRepeats(t *testing.T, data string) {
	names := namesOf(data)
	var rp repeats
	fields := make([]h1.Field, len(names))
	for i, n := range names {
		fields[i] = h1.Field{Name: n, Value: []byte{byte(i)}}
	}
	rp.linkFields(fields)
	checkRepeats(t, &rp, names, func(int) bool { return true }, func(a, b []byte) bool { return bytes.Equal(lowerAll(a), lowerAll(b)) })

	vars := make([][2][]byte, len(names))
	headers := 0
	for i, n := range names {
		vars[i] = [2][]byte{n, nil}
		if isHeaderVar(n) {
			headers++
		}
	}
	if got := rp.linkVars(vars); got != headers {
		t.Fatalf("names %q: %d header variables, want %d", names, got, headers)
	}
	checkRepeats(t, &rp, names, func(i int) bool { return isHeaderVar(names[i]) }, bytes.Equal)
}

// lowerAll lowers ASCII letters only, as header names are compared
// (bytes.EqualFold would fold Unicode too).
func lowerAll(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func TestRepeats(t *testing.T) {
	var many []string
	for i := range 40 {
		// Beyond smallRepeats: names sorted, three of each, in turn.
		many = append(many, fmt.Sprintf("HTTP_X_%d", i%13))
	}
	for _, data := range []string{
		"", "HTTP_A", "HTTP_A;HTTP_A", "HTTP_A;HTTP_B;HTTP_A;HTTP_a;HTTP_B;HTTP_A",
		"HTTP_HOST;HTTP_HOST;PATH_INFO;PATH_INFO;HTTP_", strings.Join(many, ";"),
		strings.ToLower(strings.Join(many, ";")) + ";" + strings.Join(many, ";"),
	} {
		testRepeats(t, data)
	}
}

func FuzzRepeats(f *testing.F) {
	f.Add("HTTP_A;HTTP_B;HTTP_A;HTTP_a;HTTP_B;HTTP_A")
	f.Add("HTTP_COOKIE;HTTP_HOST;HTTP_HOST;QUERY_STRING;HTTP_COOKIE")
	f.Add("a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q;r;A;B;a;HTTP_X;HTTP_X")
	f.Fuzz(testRepeats)
}
