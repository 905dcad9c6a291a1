package route

import (
	"errors"
	"testing"
)

func TestHostKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"api.example.com", "api.example.com"},
		{"api.example.com:8080", "api.example.com"},
		{"API.Example.COM", "api.example.com"},
		{"API.Example.COM:443", "api.example.com"},
		{"example.com.", "example.com"},
		{"example.com.:80", "example.com"},
		{"[::1]:8080", "::1"},
		{"[::1]", "::1"},
		{"[2001:DB8::1]:443", "2001:db8::1"},
		{"::1", "::1"}, // unbracketed IPv6: no port to strip
		{"127.0.0.1:80", "127.0.0.1"},
		{"", ""},
		{"[", "["},
		{"É.example.com", "É.example.com"}, // only ASCII is folded
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			if got := hostKey(c.in); got != c.want {
				t.Errorf("hostKey(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestHostKeyNoAllocLowerCase(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = hostKey("api.example.com:8080") }); n != 0 {
		t.Errorf("hostKey allocates %v times for a lower-case host", n)
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		kind    hostKind
		value   string
		wantErr bool
	}{
		{in: "api.example.com", kind: hostExact, value: "api.example.com"},
		{in: "API.example.com", kind: hostExact, value: "api.example.com"},
		{in: "*.Example.com", kind: hostWildcard, value: ".example.com"},
		{in: "*", kind: hostAny},
		{in: "[::1]", kind: hostExact, value: "::1"},
		{in: "::1", kind: hostExact, value: "::1"},
		{in: "", wantErr: true},
		{in: "api.*.com", wantErr: true},
		{in: "*.*.com", wantErr: true},
		{in: "*example.com", wantErr: true},
		{in: "*.", wantErr: true},
		{in: "api.example.com:8080", wantErr: true},
		{in: "[::1]:8080", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			p, err := parseHost(c.in)
			if c.wantErr {
				if !errors.Is(err, ErrHost) {
					t.Fatalf("parseHost(%q) err = %v, want ErrHost", c.in, err)
				}
				return
			}
			if err != nil || p.kind != c.kind || p.value != c.value {
				t.Fatalf("parseHost(%q) = %+v, %v; want kind %d value %q", c.in, p, err, c.kind, c.value)
			}
		})
	}
}

func TestHostMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, host string
		want          bool
	}{
		{"api.example.com", "api.example.com", true},
		{"api.example.com", "www.example.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false}, // not the bare suffix
		{"*.example.com", "badexample.com", false},
		{"*.example.com", ".example.com", false},
		{"*", "anything", true},
	}
	for _, c := range cases {
		t.Run(c.pattern+"/"+c.host, func(t *testing.T) {
			t.Parallel()
			p, err := parseHost(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(c.host); got != c.want {
				t.Errorf("%q.match(%q) = %v, want %v", c.pattern, c.host, got, c.want)
			}
		})
	}
}
