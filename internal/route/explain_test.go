package route

import (
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func explainRoutes() []config.Route {
	type M = config.Match
	return []config.Route{
		rt("api-v1", M{Host: list("api.example.com"), Path: list("/v1/*"), Methods: []string{"GET"}}),
		rt("api", M{Host: list("api.example.com")}),
		rt("tenants", M{Host: list("*.example.com"), Path: list("/v1/*")}),
		rt("health", M{Path: list("/health")}),
		rt("fallback", M{}),
	}
}

func TestExplainReasons(t *testing.T) {
	t.Parallel()
	routes := explainRoutes()
	r := mustCompile(t, routes)
	ex := r.Explain(req("POST api.example.com /v1/users"))
	if ex.Route != 1 || ex.Name != "api" {
		t.Fatalf("Explain chose %d %q, want 1 api\n%s", ex.Route, ex.Name, ex)
	}
	want := []struct {
		name, why, reason string
		matched, selected bool
	}{
		{"api-v1", "exact host api.example.com, prefix /v1/* (len 3), 1 condition", "method POST not in [GET]", false, false},
		{"api", "exact host api.example.com, any path", "", true, true},
		{"tenants", "wildcard host *.example.com (suffix len 12), prefix /v1/* (len 3)", "matches, but rank 2 wins", true, false},
		{"health", "any host, exact path /health", "path /v1/users ≠ /health", false, false},
		{"fallback", "any host, any path", "matches, but rank 2 wins", true, false},
	}
	if len(ex.Lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(ex.Lines), len(want))
	}
	for i, w := range want {
		l := ex.Lines[i]
		if l.Name != w.name || l.Why != w.why || l.Reason != w.reason || l.Matched != w.matched || l.Selected != w.selected || l.Rank != i+1 {
			t.Errorf("line %d = %+v\nwant %+v", i, l, w)
		}
	}
}

func TestExplainHostReasons(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, explainRoutes())
	ex := r.Explain(req("GET www.other.org:8080 /v1/x?a=1", "X-A: 1"))
	if got := ex.Lines[0].Reason; got != "host www.other.org ≠ api.example.com" {
		t.Errorf("exact host reason %q", got)
	}
	if got := ex.Lines[2].Reason; got != "host www.other.org not under *.example.com" {
		t.Errorf("wildcard host reason %q", got)
	}
}

func TestExplainConditionReasons(t *testing.T) {
	t.Parallel()
	type M = config.Match
	routes := []config.Route{
		rt("h", M{Headers: map[string]string{"X-Env": "prod"}}),
		rt("hr", M{Headers: map[string]string{"X-Env": "~^p"}}),
		rt("hp", M{Headers: map[string]string{"X-Missing": "*"}}),
		rt("q", M{Query: map[string]string{"v": "2"}}),
		rt("qm", M{Query: map[string]string{"w": "*"}}),
		rt("re", M{Path: list("~^/items/[0-9]+$")}),
	}
	r := mustCompile(t, routes)
	ex := r.Explain(req("GET x /p?v=1&v=3", "X-Env: dev"))
	got := map[string]string{}
	for _, l := range ex.Lines {
		got[l.Name] = l.Reason
	}
	want := map[string]string{
		"h":  `header X-Env: "dev" ≠ "prod"`,
		"hr": `header X-Env: "dev" does not match ~^p`,
		"hp": "header X-Missing missing",
		"q":  `query v: ["1" "3"] ≠ "2"`,
		"qm": "query w missing",
		"re": "path /p does not match ~^/items/[0-9]+$",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: reason %q, want %q", k, got[k], w)
		}
	}
	if ex.Route != -1 || !strings.Contains(ex.String(), "no route matches") {
		t.Errorf("want no match, got %d\n%s", ex.Route, ex)
	}
}

func TestExplainString(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, explainRoutes())
	s := r.Explain(req("GET api.example.com /v1/users")).String()
	for _, want := range []string{
		"RANK", "RANKED BY",
		"→  1     api-v1",
		"✓ selected",
		`route "api-v1" (routes[0]) handles the request`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	type M = config.Match
	routes := []config.Route{
		prio("full", 10, M{
			Host: list("api.example.com", "*.api.test"), Path: list("/v1/*", "/health"),
			Methods: []string{"GET", "HEAD"}, Headers: map[string]string{"x-env": "prod"},
			Query: map[string]string{"debug": "*", "v": "~^[0-9]$"},
		}),
		rt("catch-all", M{}),
		rt("star", M{Host: list("*"), Path: list("*")}),
	}
	r := mustCompile(t, routes)
	cases := map[int]string{
		0: "host api.example.com | *.api.test; path /v1/* | /health; methods [GET HEAD]; header X-Env=prod; query debug present; query v~^[0-9]$; priority 10",
		1: "any request",
		2: "any request",
	}
	for i, want := range cases {
		if got := r.Describe(i); got != want {
			t.Errorf("Describe(%d) = %q\nwant %q", i, got, want)
		}
	}
}
