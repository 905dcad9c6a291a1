package route

import (
	"errors"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// matchRoutes exercises every kind of condition; names say what they test.
var matchRoutes = []config.Route{
	rt("exact-host", config.Match{Host: list("api.example.com"), Path: list("/only-api")}),
	rt("wild-host", config.Match{Host: list("*.example.com"), Path: list("/only-wild")}),
	rt("ipv6", config.Match{Host: list("[::1]"), Path: list("/only-v6")}),
	rt("health", config.Match{Path: list("/health")}),
	rt("v1", config.Match{Path: list("/v1/*")}),
	rt("items", config.Match{Path: list("~^/items/[0-9]+$")}),
	rt("post-only", config.Match{Path: list("/submit"), Methods: []string{"POST", "PUT"}}),
	rt("hdr-exact", config.Match{Path: list("/h1"), Headers: map[string]string{"x-env": "prod"}}),
	rt("hdr-present", config.Match{Path: list("/h2"), Headers: map[string]string{"X-Debug": "*"}}),
	rt("hdr-regex", config.Match{Path: list("/h3"), Headers: map[string]string{"User-Agent": "~(?i)curl"}}),
	rt("q-exact", config.Match{Path: list("/q1"), Query: map[string]string{"v": "2"}}),
	rt("q-present", config.Match{Path: list("/q2"), Query: map[string]string{"debug": "*"}}),
	rt("q-regex", config.Match{Path: list("/q3"), Query: map[string]string{"id": "~^[0-9]+$"}}),
	rt("multi", config.Match{Host: list("a.test", "b.test"), Path: list("/m1", "/m2/*")}),
}

func TestMatchConditions(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, matchRoutes)
	cases := []struct {
		name string
		req  *Request
		want string
	}{
		{"exact host", req("GET api.example.com /only-api"), "exact-host"},
		{"exact host other host", req("GET www.example.com /only-api"), "-"},
		{"exact host with port", req("GET api.example.com:8443 /only-api"), "exact-host"},
		{"exact host upper case", req("GET API.Example.Com /only-api"), "exact-host"},
		{"exact host trailing dot", req("GET api.example.com. /only-api"), "exact-host"},
		{"wildcard one label", req("GET www.example.com /only-wild"), "wild-host"},
		{"wildcard two labels", req("GET a.b.example.com:80 /only-wild"), "wild-host"},
		{"wildcard upper case", req("GET WWW.EXAMPLE.COM /only-wild"), "wild-host"},
		{"wildcard not bare suffix", req("GET example.com /only-wild"), "-"},
		{"ipv6 literal with port", req("GET [::1]:8080 /only-v6"), "ipv6"},
		{"ipv6 other", req("GET [::2]:8080 /only-v6"), "-"},
		{"exact path", req("GET x /health"), "health"},
		{"exact path trailing slash", req("GET x /health/"), "-"},
		{"prefix bare", req("GET x /v1"), "v1"},
		{"prefix slash", req("GET x /v1/"), "v1"},
		{"prefix deep", req("GET x /v1/users/42"), "v1"},
		{"prefix no partial segment", req("GET x /v1x"), "-"},
		{"regex", req("GET x /items/42"), "items"},
		{"regex miss", req("GET x /items/4a"), "-"},
		{"method ok", req("PUT x /submit"), "post-only"},
		{"method refused", req("GET x /submit"), "-"},
		{"method case-sensitive", req("post x /submit"), "-"},
		{"header exact", req("GET x /h1", "X-Env: prod"), "hdr-exact"},
		{"header exact lower-case name on the wire", req("GET x /h1", "x-env: prod"), "hdr-exact"},
		{"header exact wrong value", req("GET x /h1", "X-Env: Prod"), "-"},
		{"header exact missing", req("GET x /h1"), "-"},
		{"header present", req("GET x /h2", "X-Debug: 0"), "hdr-present"},
		{"header present empty value", req("GET x /h2", "X-Debug:"), "-"},
		{"header regex", req("GET x /h3", "User-Agent: CURL/8.0"), "hdr-regex"},
		{"header regex miss", req("GET x /h3", "User-Agent: wget"), "-"},
		{"query exact", req("GET x /q1?a=1&v=2"), "q-exact"},
		{"query exact encoded", req("GET x /q1?v=%32"), "q-exact"},
		{"query exact miss", req("GET x /q1?v=3"), "-"},
		{"query present bare", req("GET x /q2?debug"), "q-present"},
		{"query present miss", req("GET x /q2?debugging=1"), "-"},
		{"query regex", req("GET x /q3?id=123"), "q-regex"},
		{"query regex miss", req("GET x /q3?id=12a"), "-"},
		{"multi host a exact path", req("GET a.test /m1"), "multi"},
		{"multi host b prefix", req("GET b.test /m2/x"), "multi"},
		{"multi other host", req("GET c.test /m1"), "-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := matchedName(r, matchRoutes, c.req); got != c.want {
				t.Errorf("Match = %s, want %s\n%s", got, c.want, r.Explain(c.req))
			}
			if ex := r.Explain(c.req); (ex.Route < 0 && c.want != "-") || (ex.Route >= 0 && matchRoutes[ex.Route].Name != c.want) {
				t.Errorf("Explain chose %d, want %s", ex.Route, c.want)
			}
		})
	}
}

func TestMatchNilHeader(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, matchRoutes)
	if _, ok := r.Match(&Request{Method: "GET", Host: "x", Path: "/h2"}); ok {
		t.Error("a header condition matched a request without headers")
	}
	if got := matchedName(r, matchRoutes, &Request{Method: "GET", Host: "x", Path: "/health"}); got != "health" {
		t.Errorf("Match = %s, want health", got)
	}
}

func TestCompileEmpty(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, nil)
	if _, ok := r.Match(req("GET x /")); ok {
		t.Error("empty router matched")
	}
	if len(r.Order()) != 0 || len(r.Warnings()) != 0 {
		t.Error("empty router has order or warnings")
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		m        config.Match
		field    string
		sentinel error
	}{
		{"bad host", config.Match{Host: list("a.*.com")}, "match.host", ErrHost},
		{"host with port", config.Match{Host: list("a.com:80")}, "match.host", ErrHost},
		{"bad prefix", config.Match{Path: list("/v1*")}, "match.path", ErrPath},
		{"bad regex", config.Match{Path: list("~(")}, "match.path", ErrPath},
		{"bad method", config.Match{Methods: []string{"GE T"}}, "match.methods", ErrCondition},
		{"bad header name", config.Match{Headers: map[string]string{"X Y": "1"}}, "match.headers", ErrCondition},
		{"empty header value", config.Match{Headers: map[string]string{"X-Y": ""}}, "match.headers", ErrCondition},
		{"bad header regex", config.Match{Headers: map[string]string{"X-Y": "~("}}, "match.headers", ErrCondition},
		{"bad query regex", config.Match{Query: map[string]string{"q": "~["}}, "match.query", ErrCondition},
		{"empty query name", config.Match{Query: map[string]string{"": "1"}}, "match.query", ErrCondition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			routes := []config.Route{rt("ok", config.Match{Path: list("/")}), rt("bad", c.m)}
			_, err := Compile(routes)
			if !errors.Is(err, c.sentinel) {
				t.Fatalf("err = %v, want %v", err, c.sentinel)
			}
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Route != 1 || ce.Name != "bad" || ce.Field != c.field {
				t.Fatalf("CompileError = %+v, want route 1 field %s", ce, c.field)
			}
		})
	}
}

func TestCompileReportsAllErrors(t *testing.T) {
	t.Parallel()
	_, err := Compile([]config.Route{
		rt("", config.Match{Host: list("a.*")}),
		rt("b", config.Match{Path: list("~(")}),
	})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 2 {
		t.Fatalf("want 2 joined errors, got %v", err)
	}
	var ce *CompileError
	if !errors.As(joined.Unwrap()[0], &ce) || ce.Name != "route#1" {
		t.Errorf("first error %v, want default name route#1", joined.Unwrap()[0])
	}
}

func TestMatchNoAlloc(t *testing.T) {
	r := mustCompile(t, benchRoutes())
	for _, q := range benchRequests() {
		if n := testing.AllocsPerRun(100, func() { r.Match(q) }); n != 0 {
			t.Errorf("Match(%s %s%s?%s) allocates %v times", q.Method, q.Host, q.Path, q.RawQuery, n)
		}
	}
}
