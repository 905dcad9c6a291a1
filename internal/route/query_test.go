package route

import (
	"net/url"
	"regexp"
	"slices"
	"testing"
)

func TestQueryMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value, raw string
		want             bool
	}{
		{"debug", "*", "debug", true},
		{"debug", "*", "debug=", true},
		{"debug", "*", "a=1&debug=1", true},
		{"debug", "*", "debugx=1", false},
		{"debug", "*", "", false},
		{"debug", "1", "debug=1", true},
		{"debug", "1", "debug=2&debug=1", true}, // any occurrence
		{"debug", "1", "debug=%31", true},       // decoded before comparing
		{"q", "a b", "q=a+b", true},
		{"q", "a b", "q=a%20b", true},
		{"q", "a+b", "q=a%2Bb", true},
		{"q", "a+b", "q=a+b", false},
		{"q", "x", "q=%zz&q=x", true}, // malformed pair skipped, next one counts
		{"q", "*", "q=%zz", false},    // as url.ParseQuery: the pair is dropped
		{"q", "x", "q=x;y=1", false},  // ';' makes the pair invalid
		{"a b", "1", "a+b=1", true},   // names are decoded too
		{"a b", "1", "a%20b=1", true},
		{"v", "~^[0-9]+$", "v=42", true},
		{"v", "~^[0-9]+$", "v=4%32", true},
		{"v", "~^[0-9]+$", "v=x", false},
		{"v", "~^a b$", "v=a+b", true},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value+"?"+c.raw, func(t *testing.T) {
			t.Parallel()
			q, err := parseQuery(c.name, c.value)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.match(c.raw); got != c.want {
				t.Errorf("match(%q) = %v, want %v", c.raw, got, c.want)
			}
			if ref := refQuery(c.name, c.value, c.raw); ref != c.want {
				t.Errorf("reference says %v for %q: the table is wrong", ref, c.raw)
			}
		})
	}
}

// refQuery is the obvious implementation: url.ParseQuery, then look.
func refQuery(name, value, raw string) bool {
	vals, _ := url.ParseQuery(raw)
	got, ok := vals[name]
	if !ok {
		return false
	}
	switch {
	case value == "*":
		return true
	case len(value) > 0 && value[0] == '~':
		re := regexp.MustCompile(value[1:])
		return slices.ContainsFunc(got, re.MatchString)
	}
	return slices.Contains(got, value)
}

func TestQueryMatchNoAlloc(t *testing.T) {
	exact, _ := parseQuery("debug", "1")
	present, _ := parseQuery("debug", "*")
	escaped, _ := parseQuery("q", "a b")
	n := testing.AllocsPerRun(100, func() {
		_ = exact.match("a=1&b=2&debug=1")
		_ = present.match("a=1&debug")
		_ = escaped.match("q=a%20b")
	})
	if n != 0 {
		t.Errorf("query match allocates %v times", n)
	}
}

func FuzzQueryMatch(f *testing.F) {
	for _, s := range []string{"debug=1", "a=1&debug=%31", "q=a+b", "q=%zz&q=x", "q=x;y", "debug", "%64ebug=1", "&&debug=1&"} {
		f.Add(s, "1")
	}
	f.Add("q=a+b", "a b")
	f.Fuzz(func(t *testing.T, raw, want string) {
		for _, name := range []string{"debug", "q", "a b"} {
			for _, value := range []string{"*", want, "~^[0-9]+$"} {
				q, err := parseQuery(name, value)
				if err != nil {
					continue // e.g. want is a bad regex
				}
				if got, ref := q.match(raw), refQuery(name, value, raw); got != ref {
					t.Fatalf("query %s=%q on %q: match %v, url.ParseQuery says %v", name, value, raw, got, ref)
				}
			}
		}
	})
}
