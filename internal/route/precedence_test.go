package route

import (
	"slices"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// TestPrecedence: each case lists routes in config order and a request that
// several of them match; the winner must be the one the documented rules
// pick. Names are "winner" and "loser*" to keep the table readable.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	type M = config.Match
	cases := []struct {
		name   string
		routes []config.Route
		req    *Request
	}{
		{"exact host beats wildcard", []config.Route{
			rt("loser", M{Host: list("*.example.com")}),
			rt("winner", M{Host: list("api.example.com")}),
		}, req("GET api.example.com /")},
		{"wildcard beats no host", []config.Route{
			rt("loser", M{}),
			rt("winner", M{Host: list("*.example.com")}),
		}, req("GET api.example.com /")},
		{"longer wildcard suffix first", []config.Route{
			rt("loser", M{Host: list("*.example.com")}),
			rt("winner", M{Host: list("*.eu.example.com")}),
		}, req("GET a.eu.example.com /")},
		{"host outranks path", []config.Route{
			rt("loser", M{Path: list("/exact")}),
			rt("winner", M{Host: list("a.test")}),
		}, req("GET a.test /exact")},
		{"exact path beats prefix", []config.Route{
			rt("loser", M{Path: list("/v1/*")}),
			rt("winner", M{Path: list("/v1/health")}),
		}, req("GET x /v1/health")},
		{"longer prefix first", []config.Route{
			rt("loser", M{Path: list("/api/*")}),
			rt("winner", M{Path: list("/api/v1/*")}),
		}, req("GET x /api/v1/users")},
		{"shorter prefix when longer does not apply", []config.Route{
			rt("winner", M{Path: list("/api/*")}),
			rt("loser", M{Path: list("/api/v1/*")}),
		}, req("GET x /api/v2/users")},
		{"prefix beats regex", []config.Route{
			rt("loser", M{Path: list("~^/api/")}),
			rt("winner", M{Path: list("/api/*")}),
		}, req("GET x /api/x")},
		{"regex in config order", []config.Route{
			rt("winner", M{Path: list("~^/a")}),
			rt("loser", M{Path: list("~^/ab")}),
		}, req("GET x /abc")},
		{"regex beats no path", []config.Route{
			rt("loser", M{}),
			rt("winner", M{Path: list("~.")}),
		}, req("GET x /abc")},
		{"more conditions first", []config.Route{
			rt("loser", M{Path: list("/api/*")}),
			rt("winner", M{Path: list("/api/*"), Methods: []string{"POST"}}),
		}, req("POST x /api/x")},
		{"fewer conditions when the others fail", []config.Route{
			rt("winner", M{Path: list("/api/*")}),
			rt("loser", M{Path: list("/api/*"), Methods: []string{"POST"}}),
		}, req("GET x /api/x")},
		{"two headers beat one", []config.Route{
			rt("loser", M{Headers: map[string]string{"A": "1"}}),
			rt("winner", M{Headers: map[string]string{"A": "1", "B": "*"}}),
		}, req("GET x /", "A: 1", "B: 2")},
		{"query counts as a condition", []config.Route{
			rt("loser", M{Path: list("/s")}),
			rt("winner", M{Path: list("/s"), Query: map[string]string{"q": "*"}}),
		}, req("GET x /s?q=go")},
		{"ties go to config order", []config.Route{
			rt("winner", M{Path: list("/same")}),
			rt("loser", M{Path: list("/same")}),
		}, req("GET x /same")},
		{"priority beats exact host", []config.Route{
			rt("loser", M{Host: list("api.example.com"), Path: list("/x")}),
			prio("winner", 10, M{}),
		}, req("GET api.example.com /x")},
		{"higher priority first", []config.Route{
			prio("loser", 5, M{}),
			prio("winner", 6, M{}),
		}, req("GET x /")},
		{"negative priority goes last", []config.Route{
			prio("loser", -1, M{Host: list("a.test")}),
			rt("winner", M{}),
		}, req("GET a.test /")},
		{"equal priority falls back to specificity", []config.Route{
			prio("loser", 3, M{Path: list("/*")}),
			prio("winner", 3, M{Path: list("/x")}),
		}, req("GET x /x")},
		{"alternatives ranked on their own: exact host alt", []config.Route{
			rt("loser", M{Host: list("*.example.com")}),
			rt("winner", M{Host: list("*.other.com", "api.example.com")}),
		}, req("GET api.example.com /")},
		{"alternatives ranked on their own: wildcard alt", []config.Route{
			rt("winner", M{Host: list("*.example.com")}),
			rt("loser", M{Host: list("api.test", "*.example.com")}),
		}, req("GET www.example.com /")},
		{"prefix alt beats regex alt of earlier route", []config.Route{
			rt("loser", M{Path: list("~^/v1", "/zzz")}),
			rt("winner", M{Path: list("/v1/*")}),
		}, req("GET x /v1/a")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := mustCompile(t, c.routes)
			if got := matchedName(r, c.routes, c.req); got != "winner" {
				t.Errorf("Match = %s, want winner\n%s", got, r.Explain(c.req))
			}
		})
	}
}

// TestOrder pins the whole order of a mixed set, including a route with two
// alternatives appearing twice.
func TestOrder(t *testing.T) {
	t.Parallel()
	type M = config.Match
	routes := []config.Route{
		rt("catch-all", M{}),                                                        // 0
		rt("regex", M{Path: list("~^/items/")}),                                     // 1
		rt("v1", M{Path: list("/v1/*")}),                                            // 2
		rt("v1-users", M{Path: list("/v1/users/*")}),                                // 3
		rt("health", M{Path: list("/health")}),                                      // 4
		rt("wild", M{Host: list("*.example.com")}),                                  // 5
		rt("wild-eu", M{Host: list("*.eu.example.com")}),                            // 6
		rt("api", M{Host: list("api.example.com", "*.api.test")}),                   // 7
		rt("api-post", M{Host: list("api.example.com"), Methods: []string{"POST"}}), // 8
		prio("first", 100, M{Path: list("/maintenance")}),                           // 9
		rt("regex2", M{Path: list("~^/a")}),                                         // 10
	}
	r := mustCompile(t, routes)
	want := []int{9, 8, 7, 6, 5, 7, 4, 3, 2, 1, 10, 0} // ".api.test" is shorter than ".example.com"
	if got := r.Order(); !slices.Equal(got, want) {
		t.Errorf("Order = %v\nwant    %v\n%s", got, want, r.Explain(req("GET x /")))
	}
	ex := r.Explain(req("GET x /"))
	for i, l := range ex.Lines {
		if l.Route != want[i] || l.Rank != i+1 {
			t.Errorf("Explain line %d = route %d rank %d, want route %d", i, l.Route, l.Rank, want[i])
		}
	}
}

// TestOrderDeterministic: compiling the same routes twice (maps inside
// conditions iterate randomly) gives the same order and explain text.
func TestOrderDeterministic(t *testing.T) {
	t.Parallel()
	routes := benchRoutes()
	a, b := mustCompile(t, routes), mustCompile(t, routes)
	q := req("GET api.example.com /v2/x", "X-Canary: 1")
	if !slices.Equal(a.Order(), b.Order()) || a.Explain(q).String() != b.Explain(q).String() {
		t.Error("two compiles of the same routes differ")
	}
}
