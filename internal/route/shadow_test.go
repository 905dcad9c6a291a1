package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestWarnings(t *testing.T) {
	t.Parallel()
	type M = config.Match
	cases := []struct {
		name   string
		routes []config.Route
		want   []int         // routes that can never match
		by     map[int][]int // optional: who wins over them
	}{
		{"identical match", []config.Route{
			rt("a", M{Host: list("api.example.com"), Path: list("/v1/*")}),
			rt("b", M{Host: list("api.example.com"), Path: list("/v1/*")}),
		}, []int{1}, map[int][]int{1: {0}}},
		{"two catch-alls", []config.Route{rt("a", M{}), rt("b", M{})}, []int{1}, nil},
		{"longer prefix after shorter is fine", []config.Route{
			rt("api", M{Path: list("/api/*")}),
			rt("api-v1", M{Path: list("/api/v1/*")}),
		}, nil, nil},
		{"same host and path, no extra condition", []config.Route{
			rt("a", M{Host: list("a.test"), Path: list("/x"), Methods: []string{"GET"}}),
			rt("b", M{Host: list("a.test"), Path: list("/x")}),
			rt("c", M{Host: list("a.test"), Path: list("/x"), Methods: []string{"GET"}}),
		}, []int{2}, map[int][]int{2: {0}}},
		{"extra condition keeps a route alive", []config.Route{
			rt("a", M{Path: list("/x")}),
			rt("b", M{Path: list("/x"), Headers: map[string]string{"X-Env": "prod"}}),
		}, nil, nil},
		{"wildcard is shadowed by nothing exact", []config.Route{
			rt("exact", M{Host: list("api.example.com")}),
			rt("wild", M{Host: list("*.example.com")}),
		}, nil, nil},
		{"wildcard covers narrower wildcard of lower rank via priority", []config.Route{
			prio("wide", 1, M{Host: list("*.example.com")}),
			rt("narrow", M{Host: list("*.eu.example.com")}),
			rt("exact", M{Host: list("a.example.com")}),
		}, []int{1, 2}, nil},
		{"priority catch-all shadows everything", []config.Route{
			rt("api", M{Host: list("api.example.com"), Path: list("/v1/*")}),
			rt("health", M{Path: list("/health")}),
			prio("maintenance", 10, M{}),
		}, []int{0, 1}, map[int][]int{0: {2}, 1: {2}}},
		{"priority catch-all with a method does not shadow", []config.Route{
			rt("api", M{Path: list("/v1/*")}),
			prio("block-delete", 10, M{Methods: []string{"DELETE"}}),
		}, nil, nil},
		// Same condition count: config order puts "rw" first, and GET ⊂ {GET, POST}.
		{"methods subset later in config", []config.Route{
			rt("rw", M{Path: list("/y"), Methods: []string{"GET", "POST"}}),
			rt("g", M{Path: list("/y"), Methods: []string{"GET"}}),
		}, []int{1}, nil},
		{"prefix covers exact only when exact ranks lower", []config.Route{
			prio("all-v1", 1, M{Path: list("/v1/*")}),
			rt("v1-health", M{Path: list("/v1/health")}),
			rt("v2-health", M{Path: list("/v2/health")}),
		}, []int{1}, nil},
		{"one live alternative keeps the route", []config.Route{
			rt("a", M{Host: list("a.test")}),
			rt("b", M{Host: list("a.test", "b.test")}),
		}, nil, nil},
		{"all alternatives covered by different routes", []config.Route{
			rt("a", M{Host: list("a.test")}),
			rt("b", M{Host: list("b.test")}),
			rt("ab", M{Host: list("a.test", "b.test")}),
		}, []int{2}, map[int][]int{2: {0, 1}}},
		{"regex shadows the identical regex", []config.Route{
			rt("a", M{Path: list("~^/x")}),
			rt("b", M{Path: list("~^/x")}),
		}, []int{1}, nil},
		{"different regexes are never judged", []config.Route{
			rt("a", M{Path: list("~.*")}),
			rt("b", M{Path: list("~^/x")}),
		}, nil, nil},
		{"header present covers exact value", []config.Route{
			prio("any-canary", 1, M{Headers: map[string]string{"X-Canary": "*"}}),
			rt("canary-1", M{Headers: map[string]string{"x-canary": "1"}}),
		}, []int{1}, nil},
		{"header regex covers matching exact value", []config.Route{
			prio("v-any", 1, M{Query: map[string]string{"v": "~^[0-9]+$"}}),
			rt("v2", M{Query: map[string]string{"v": "2"}}),
			rt("vx", M{Query: map[string]string{"v": "x"}}),
		}, []int{1}, nil},
		{"union of routes is not detected (conservative)", []config.Route{
			prio("get", 1, M{Methods: []string{"GET"}}),
			prio("other", 1, M{Methods: []string{"POST"}}),
			rt("both", M{Methods: []string{"GET", "POST"}}),
		}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := mustCompile(t, c.routes)
			var got []int
			for _, w := range r.Warnings() {
				got = append(got, w.Route)
				if want, ok := c.by[w.Route]; ok && !slices.Equal(w.By, want) {
					t.Errorf("route %d shadowed by %v, want %v", w.Route, w.By, want)
				}
				if !strings.Contains(w.Msg, "can never match") || !strings.Contains(w.Msg, c.routes[w.Route].Name) {
					t.Errorf("message %q", w.Msg)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("shadowed = %v, want %v\n%v", got, c.want, r.Warnings())
			}
		})
	}
}

// TestWarningsSound: a shadowed route must really never win. For every
// warning, no request from a sample that matches the shadowed route's
// patterns is routed to it.
func TestWarningsSound(t *testing.T) {
	t.Parallel()
	type M = config.Match
	routes := []config.Route{
		prio("wide", 1, M{Host: list("*.example.com")}),
		rt("narrow", M{Host: list("*.eu.example.com")}),
		rt("v1", M{Path: list("/v1/*")}),
		rt("v1-dup", M{Path: list("/v1/*")}),
		rt("h", M{Path: list("/h"), Headers: map[string]string{"X": "1"}}),
		rt("h-dup", M{Path: list("/h"), Headers: map[string]string{"X": "1"}}),
	}
	r := mustCompile(t, routes)
	if len(r.Warnings()) != 3 {
		t.Fatalf("warnings = %v", r.Warnings())
	}
	for _, host := range []string{"a.eu.example.com", "x.example.com", "other.test"} {
		for _, path := range []string{"/", "/v1", "/v1/a", "/h"} {
			for _, h := range [][]string{nil, {"X: 1"}} {
				i, ok := r.Match(req("GET "+host+" "+path, h...))
				for _, w := range r.Warnings() {
					if ok && i == w.Route {
						t.Errorf("shadowed route %d matched %s%s", i, host, path)
					}
				}
			}
		}
	}
}
