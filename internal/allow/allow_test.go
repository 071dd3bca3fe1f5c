package allow

import "testing"

func TestAllows(t *testing.T) {
	l, err := Parse("127.0.0.1, ::1,10.0.0.0/8, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "2001:db8::5": true, "": true, // "": a Unix socket
		"127.0.0.2": false, "11.0.0.1": false, "2001:db9::1": false, "::ffff:10.0.0.1": true, "garbage": false,
	} {
		if got := l.Allows(ip); got != want {
			t.Errorf("Allows(%q) = %v, want %v", ip, got, want)
		}
	}
	if any, _ := Parse("*"); !any.Any() || !any.Allows("203.0.113.1") {
		t.Errorf("* allows everyone")
	}
	if none, _ := Parse(""); none.Allows("127.0.0.1") {
		t.Errorf("an empty list allows nobody with an address")
	}
}

// As Python's ip_network(strict=True): host bits set are a mistake.
func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"192.168.1.1/24", "10.0.0.0/33", "localhost", "1.2.3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
