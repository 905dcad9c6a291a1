package route

import (
	"errors"
	"testing"
)

func TestPathMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"/health", "/health", true},
		{"/health", "/health/", false},
		{"/health", "/Health", false}, // paths are case-sensitive
		{"/v1/*", "/v1", true},
		{"/v1/*", "/v1/", true},
		{"/v1/*", "/v1/users/42", true},
		{"/v1/*", "/v1x", false},
		{"/v1/*", "/v", false},
		{"/*", "/", true},
		{"/*", "/anything", true},
		{"~^/items/[0-9]+$", "/items/42", true},
		{"~^/items/[0-9]+$", "/items/x", false},
		{"~/items", "/a/items/b", true}, // unanchored regex, as Go's regexp
		{"*", "/x", true},
	}
	for _, c := range cases {
		t.Run(c.pattern+" "+c.path, func(t *testing.T) {
			t.Parallel()
			p, err := parsePath(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(c.path); got != c.want {
				t.Errorf("%q.match(%q) = %v, want %v", c.pattern, c.path, got, c.want)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "/v1*", "~(", "~[a-"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if _, err := parsePath(in); !errors.Is(err, ErrPath) {
				t.Errorf("parsePath(%q) err = %v, want ErrPath", in, err)
			}
		})
	}
}
