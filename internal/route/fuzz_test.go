package route

import (
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// fuzzRoutes covers every pattern kind; FuzzMatch adds one route built from
// the fuzzer's host and path patterns.
func fuzzRoutes() []config.Route {
	type M = config.Match
	return []config.Route{
		rt("exact", M{Host: list("api.example.com"), Path: list("/v1/*", "/health")}),
		rt("wild", M{Host: list("*.example.com"), Path: list("/v1/*")}),
		rt("wild2", M{Host: list("*.b.example.com")}),
		rt("v6", M{Host: list("[::1]")}),
		rt("items", M{Path: list("~^/items/[0-9]+$")}),
		rt("root", M{Path: list("/*"), Methods: []string{"GET"}}),
		rt("hdr", M{Path: list("/h/*"), Headers: map[string]string{"X-Env": "prod", "X-Any": "*"}}),
		rt("hre", M{Headers: map[string]string{"X-Env": "~^st"}}),
		rt("q", M{Query: map[string]string{"debug": "*", "v": "2"}}),
		rt("qre", M{Path: list("/q"), Query: map[string]string{"id": "~^[0-9]+$"}}),
		prio("prio", 5, M{Path: list("/maint")}),
		rt("last", M{Path: list("/x")}),
	}
}

// FuzzMatch: Match never panics and agrees with a slow reference that walks
// Explain's lines (the documented precedence order) and evaluates each
// alternative with the obvious library calls.
func FuzzMatch(f *testing.F) {
	seeds := []struct{ method, host, path, query, env, hostPat, pathPat string }{
		{"GET", "api.example.com", "/v1/x", "", "", "a.test", "/a"},
		{"GET", "API.EXAMPLE.COM:8080", "/health", "debug&v=2", "prod", "*.test", "/a/*"},
		{"POST", "a.b.example.com.", "/h/x", "id=1%32", "prod", "*", "~^/a"},
		{"GET", "[::1]:8080", "/items/42", "v=%32&debug=", "stage", "[::1]", "*"},
		{"GET", "::1", "/q", "id=4+2", "", "*.example.com", "/q"},
		{"get", "", "", ";", "", "x", "/"},
		{"GET", "[", "/maint", "%zz=1&debug", "st", "Api.Example.Com", "/maint/*"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.host, s.path, s.query, s.env, s.hostPat, s.pathPat)
	}
	f.Fuzz(func(t *testing.T, method, host, path, query, env, hostPat, pathPat string) {
		routes := append(fuzzRoutes(), rt("fuzz", config.Match{Host: list(hostPat), Path: list(pathPat)}))
		r, err := Compile(routes)
		if err != nil {
			routes = fuzzRoutes()
			r = mustCompile(t, routes)
		}
		q := &Request{Method: method, Host: host, Path: path, RawQuery: query,
			Header: http.Header{"X-Env": {env}, "X-Any": {env}}}
		got, ok := r.Match(q)
		ex := r.Explain(q)
		want := -1
		for _, l := range ex.Lines {
			if refMatch(&routes[l.Route], l.Host, l.Path, q) {
				want = l.Route
				break
			}
		}
		if !ok {
			got = -1
		}
		if got != want || ex.Route != want {
			t.Fatalf("Match %d, Explain %d, reference %d for %+v\n%s", got, ex.Route, want, q, ex)
		}
		if !slices.Equal(r.Order(), lineRoutes(ex)) {
			t.Fatal("Order and Explain disagree")
		}
	})
}

func lineRoutes(ex Explanation) []int {
	out := make([]int, len(ex.Lines))
	for i, l := range ex.Lines {
		out[i] = l.Route
	}
	return out
}

// refMatch evaluates one host×path alternative of rt the slow, obvious way.
func refMatch(rt *config.Route, hostPat, pathPat string, q *Request) bool {
	return refHost(hostPat, q.Host) && refPath(pathPat, q.Path) && refConds(&rt.Match, q)
}

func refHost(pat, host string) bool {
	if pat == "" || pat == "*" {
		return true
	}
	// Reduce the request host: port, brackets, trailing dot, case.
	if strings.HasPrefix(host, "[") && strings.Contains(host, "]") {
		host = host[1:strings.Index(host, "]")]
	} else if strings.Count(host, ":") == 1 {
		host, _, _ = strings.Cut(host, ":")
	}
	host = strings.TrimSuffix(host, ".")
	pat = strings.TrimSuffix(strings.Trim(strings.TrimSpace(pat), "[]"), ".")
	if suffix, ok := strings.CutPrefix(pat, "*"); ok {
		return len(host) > len(suffix) && asciiEqualFold(host[len(host)-len(suffix):], suffix)
	}
	return asciiEqualFold(host, pat)
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 32
		}
		if 'A' <= y && y <= 'Z' {
			y += 32
		}
		if x != y {
			return false
		}
	}
	return true
}

func refPath(pat, path string) bool {
	switch {
	case pat == "" || pat == "*":
		return true
	case pat[0] == '~':
		return regexp.MustCompile(pat[1:]).MatchString(path)
	case strings.HasSuffix(pat, "/*"):
		p := strings.TrimSuffix(pat, "/*")
		return path == p || strings.HasPrefix(path, p+"/")
	}
	return path == pat
}

func refConds(m *config.Match, q *Request) bool {
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, q.Method) {
		return false
	}
	for name, want := range m.Headers {
		v := q.Header.Get(textproto.CanonicalMIMEHeaderKey(name))
		if v == "" || !refValue(want, v) {
			return false
		}
	}
	vals, _ := url.ParseQuery(q.RawQuery)
	for name, want := range m.Query {
		if !slices.ContainsFunc(vals[name], func(v string) bool { return refValue(want, v) }) {
			return false
		}
	}
	return true
}

func refValue(want, v string) bool {
	switch {
	case want == "*":
		return true
	case strings.HasPrefix(want, "~"):
		return regexp.MustCompile(want[1:]).MatchString(v)
	}
	return v == want
}
