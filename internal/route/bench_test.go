package route

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// benchRoutes is a realistic mix of ~50 routes: a few services on their own
// hosts with versioned prefixes, per-tenant wildcards, method and header
// splits, regexes, and host-less catch-alls.
func benchRoutes() []config.Route {
	var rs []config.Route
	for _, svc := range []string{"api", "auth", "billing", "search", "media", "admin"} {
		host := list(svc + ".example.com")
		rs = append(rs,
			rt(svc+"-health", config.Match{Host: host, Path: list("/health")}),
			rt(svc+"-v1", config.Match{Host: host, Path: list("/v1/*")}),
			rt(svc+"-v2", config.Match{Host: host, Path: list("/v2/*")}),
			rt(svc+"-v2-write", config.Match{Host: host, Path: list("/v2/*"), Methods: []string{"POST", "PUT", "DELETE"}}),
			rt(svc+"-canary", config.Match{Host: host, Path: list("/v2/*"), Headers: map[string]string{"X-Canary": "1"}}),
		)
	}
	rs = append(rs,
		rt("tenant-api", config.Match{Host: list("*.tenants.example.com"), Path: list("/api/*")}),
		rt("tenant-static", config.Match{Host: list("*.tenants.example.com"), Path: list("/static/*")}),
		rt("tenant", config.Match{Host: list("*.tenants.example.com")}),
		rt("any-sub", config.Match{Host: list("*.example.com"), Path: list("/.well-known/*")}),
		rt("www", config.Match{Host: list("www.example.com", "example.com")}),
		rt("items", config.Match{Path: list("~^/items/[0-9]+$")}),
		rt("users", config.Match{Path: list("~^/users/[a-z]+/profile$")}),
		rt("debug", config.Match{Path: list("/debug/*"), Query: map[string]string{"token": "s3cret"}}),
		rt("preview", config.Match{Path: list("/preview/*"), Query: map[string]string{"draft": "*"}}),
		rt("metrics", config.Match{Path: list("/metrics"), Methods: []string{"GET"}}),
		rt("robots", config.Match{Path: list("/robots.txt")}),
		rt("favicon", config.Match{Path: list("/favicon.ico")}),
		rt("docs", config.Match{Path: list("/docs/*")}),
		rt("assets", config.Match{Path: list("/assets/*")}),
		rt("ws", config.Match{Path: list("/ws"), Headers: map[string]string{"Upgrade": "websocket"}}),
		rt("graphql", config.Match{Path: list("/graphql"), Methods: []string{"POST"}}),
		rt("legacy", config.Match{Path: list("/cgi-bin/*")}),
		rt("fallback", config.Match{}),
	)
	return rs
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func benchRequests() []*Request {
	ua := hdr("User-Agent", "bench/1.0", "Accept", "*/*")
	return []*Request{
		{Method: "GET", Host: "api.example.com", Path: "/v1/users/42", Header: ua},
		{Method: "POST", Host: "billing.example.com:443", Path: "/v2/invoices", Header: ua},
		{Method: "GET", Host: "search.example.com", Path: "/v2/q", Header: hdr("X-Canary", "1")},
		{Method: "GET", Host: "admin.example.com", Path: "/health", Header: ua},
		{Method: "GET", Host: "acme.tenants.example.com", Path: "/api/orders", Header: ua},
		{Method: "GET", Host: "shop.example.com", Path: "/.well-known/acme-challenge/x", Header: ua},
		{Method: "GET", Host: "example.com", Path: "/", Header: ua},
		{Method: "GET", Host: "other.org", Path: "/docs/intro/install", Header: ua},
		{Method: "GET", Host: "other.org", Path: "/debug/pprof", RawQuery: "a=1&token=s3cret", Header: ua},
		{Method: "GET", Host: "other.org", Path: "/preview/post", RawQuery: "draft", Header: ua},
		{Method: "GET", Host: "other.org", Path: "/ws", Header: hdr("Upgrade", "websocket")},
		{Method: "GET", Host: "other.org", Path: "/items/123", Header: ua},
		{Method: "GET", Host: "other.org", Path: "/nothing/here", Header: ua},
	}
}

// BenchmarkRouterMatch cycles through a realistic request mix against ~50
// routes. It must report 0 allocs/op.
func BenchmarkRouterMatch(b *testing.B) {
	r := mustCompile(b, benchRoutes())
	reqs := benchRequests()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Match(reqs[i%len(reqs)])
		i++
	}
}

// BenchmarkRouterMatchCase covers one request shape at a time.
func BenchmarkRouterMatchCase(b *testing.B) {
	r := mustCompile(b, benchRoutes())
	ua := hdr("User-Agent", "bench/1.0")
	cases := []struct {
		name string
		req  *Request
	}{
		{"exact-host-prefix", &Request{Method: "GET", Host: "api.example.com", Path: "/v1/users/42", Header: ua}},
		{"exact-host-exact-path", &Request{Method: "GET", Host: "api.example.com", Path: "/health", Header: ua}},
		{"wildcard", &Request{Method: "GET", Host: "acme.tenants.example.com", Path: "/static/app.js", Header: ua}},
		{"wildcard-deep", &Request{Method: "GET", Host: "a.b.c.tenants.example.com", Path: "/x", Header: ua}},
		{"prefix-deep", &Request{Method: "GET", Host: "other.org", Path: "/docs/a/b/c/d/e/f", Header: ua}},
		{"regex", &Request{Method: "GET", Host: "other.org", Path: "/users/bob/profile", Header: ua}},
		{"query", &Request{Method: "GET", Host: "other.org", Path: "/debug/vars", RawQuery: "x=1&y=2&token=s3cret", Header: ua}},
		{"fallback", &Request{Method: "GET", Host: "other.org", Path: "/nothing", Header: ua}},
		{"upper-case-host", &Request{Method: "GET", Host: "API.Example.com", Path: "/v1/x", Header: ua}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Match(c.req)
			}
		})
	}
}

// BenchmarkRouterMatchManyPrefixes shows the prefix index: 1000 prefix
// routes on one host cost a few map lookups, not a scan.
func BenchmarkRouterMatchManyPrefixes(b *testing.B) {
	var rs []config.Route
	for i := range 1000 {
		rs = append(rs, rt(fmt.Sprint("p", i), config.Match{Path: list(fmt.Sprintf("/svc%d/*", i))}))
	}
	r := mustCompile(b, rs)
	q := &Request{Method: "GET", Host: "x", Path: "/svc999/a/b"}
	b.ReportAllocs()
	for b.Loop() {
		r.Match(q)
	}
}
