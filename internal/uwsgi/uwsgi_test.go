package uwsgi

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func packet(vars ...string) []byte {
	var block []byte
	for i := 0; i+1 < len(vars); i += 2 {
		block = AppendVar(block, vars[i], vars[i+1])
	}
	return append(AppendHeader(nil, len(block)), block...)
}

func TestReadRequest(t *testing.T) {
	in := append(packet("REQUEST_METHOD", "POST", "PATH_INFO", "/a", "EMPTY", ""), "body"...)
	r := bytes.NewReader(in)
	buf := make([]byte, 65535)
	h, vars, err := ReadRequest(r, buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Modifier1 != 0 || int(h.Size) != len(in)-4-4 {
		t.Errorf("header %+v", h)
	}
	if len(vars) != 3 || string(vars[0][0]) != "REQUEST_METHOD" || string(vars[1][1]) != "/a" || len(vars[2][1]) != 0 {
		t.Errorf("vars %q", vars)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "body" {
		t.Errorf("the body after the packet: %q", rest)
	}
}

func TestMalformed(t *testing.T) {
	buf := make([]byte, 65535)
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"modifier1 5 (PSGI)", []byte{5, 0, 0, 0}, ErrProtocol},
		{"HTTP instead", []byte("GET / HTTP/1.1\r\n\r\n"), ErrProtocol},
		{"header cut", []byte{0, 1}, io.ErrUnexpectedEOF},
		{"block cut", []byte{0, 10, 0, 0, 1, 0}, io.ErrUnexpectedEOF},
		{"key longer than block", []byte{0, 4, 0, 0, 9, 0, 'a', 'b'}, ErrProtocol},
		{"value length missing", []byte{0, 3, 0, 0, 1, 0, 'a'}, ErrProtocol},
		{"odd byte", []byte{0, 1, 0, 0, 1}, ErrProtocol},
	} {
		_, _, err := ReadRequest(bytes.NewReader(c.in), buf, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzVars(f *testing.F) {
	f.Add(packet("A", "b", "QUERY_STRING", "x=1")[HeaderSize:])
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseVars(data, nil)
		if err != nil {
			return
		}
		var again []byte
		for _, v := range vars {
			again = AppendVar(again, string(v[0]), string(v[1]))
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoded differently: %q vs %q", again, data)
		}
	})
}
