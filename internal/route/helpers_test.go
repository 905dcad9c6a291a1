package route

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// rt builds a route for tests.
func rt(name string, m config.Match) config.Route {
	return config.Route{Name: name, Match: m}
}

// prio builds a route with an explicit priority.
func prio(name string, p int, m config.Match) config.Route {
	return config.Route{Name: name, Priority: p, Match: m}
}

func list(s ...string) config.StringList { return config.StringList(s) }

func mustCompile(t testing.TB, routes []config.Route) *Router {
	t.Helper()
	r, err := Compile(routes)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

// req parses "METHOD host /path?query" plus optional "Name: value" headers.
func req(line string, headers ...string) *Request {
	f := strings.Fields(line)
	r := &Request{Method: f[0], Host: f[1]}
	r.Path, r.RawQuery, _ = strings.Cut(f[2], "?")
	h := http.Header{}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		h.Add(k, strings.TrimSpace(v))
	}
	r.Header = h
	return r
}

// matchedName returns the name of the matched route, or "-" for none.
func matchedName(r *Router, routes []config.Route, q *Request) string {
	i, ok := r.Match(q)
	if !ok {
		return "-"
	}
	return routes[i].Name
}
