package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// routingConfig exercises every precedence rule; each route answers with its
// own name so the response identifies the winner. Routes are deliberately
// listed least specific first, so that config order alone would pick wrong.
func routingConfig(backend string) string {
	return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: true, output: stdout } }
routes:
  # host dimension, same path
  - name: host-none
    match: { path: /h/* }
    respond: { body: host-none }
  - name: host-wild
    match: { host: "*.example.com", path: /h/* }
    respond: { body: host-wild }
  - name: host-exact
    match: { host: api.example.com, path: /h/* }
    respond: { body: host-exact }
  # path dimension, no host
  - name: regex-p
    match: { path: "~^/p" }
    respond: { body: regex-p }
  - name: prefix-short
    match: { path: /p/* }
    respond: { body: prefix-short }
  - name: prefix-long
    match: { path: /p/a/* }
    respond: { body: prefix-long }
  - name: exact
    match: { path: /p/a/b }
    respond: { body: exact }
  # regexes among themselves: config order
  - name: regex-first
    match: { path: "~^/r/" }
    respond: { body: regex-first }
  - name: regex-second
    match: { path: "~^/r/x" }
    respond: { body: regex-second }
  # explicit priority beats specificity
  - name: prio-exact
    match: { path: /q/x }
    respond: { body: prio-exact }
  - name: prio-high
    priority: 10
    match: { path: "~^/q/" }
    respond: { body: prio-high }
  # methods: a tie between two exact paths goes to config order, and a
  # method condition that fails falls through to the next
  - name: post-only
    match: { path: /m, methods: [ POST ] }
    respond: { body: post-only }
  - name: m-any
    match: { path: /m }
    respond: { body: m-any }
  # headers and query
  - name: hdr-canary
    match: { path: /x, headers: { X-Env: canary } }
    respond: { body: hdr-canary }
  - name: hdr-present
    match: { path: /x, headers: { X-Debug: "*" } }
    respond: { body: hdr-present }
  - name: hdr-none
    match: { path: /x }
    respond: { body: hdr-none }
  - name: query-v2
    match: { path: /qq, query: { v: "2" } }
    respond: { body: query-v2 }
  - name: query-none
    match: { path: /qq }
    respond: { body: query-none }
  # terminal actions besides respond
  - name: redirect
    match: { path: /old }
    redirect: { to: "/new{path}", status: 301 }
  - name: teapot
    match: { path: /teapot }
    respond: { status: 418, body: short and stout, headers: { X-Pot: tea } }
  # an upstream route with a rewrite
  - name: svc
    match: { path: /svc/* }
    middleware:
      - rewrite: { strip_prefix: /svc, add_prefix: /v2 }
    upstream: backend
upstreams:
  backend: { targets: [ "%s" ] }
`, backend)
}

func TestRoutingPrecedence(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, routingConfig(be.Addr()))
	c := newClient(t)

	cases := []struct {
		name   string
		method string
		host   string
		path   string
		hdr    []string
		status int
		want   string // exact body
	}{
		{name: "exact host beats wildcard", host: "api.example.com", path: "/h/1", want: "host-exact"},
		{name: "host is case-insensitive and port-blind", host: "API.Example.COM:8080", path: "/h/1", want: "host-exact"},
		{name: "wildcard beats no host", host: "www.example.com", path: "/h/1", want: "host-wild"},
		{name: "wildcard spans several labels", host: "a.b.example.com", path: "/h/1", want: "host-wild"},
		{name: "wildcard does not match the bare domain", host: "example.com", path: "/h/1", want: "host-none"},
		{name: "no host condition for other hosts", host: "other.test", path: "/h/1", want: "host-none"},
		{name: "exact path beats prefixes", path: "/p/a/b", want: "exact"},
		{name: "longer prefix beats shorter", path: "/p/a/c", want: "prefix-long"},
		{name: "prefix without trailing part", path: "/p/a", want: "prefix-long"},
		{name: "shorter prefix", path: "/p/z", want: "prefix-short"},
		{name: "prefix beats regex", path: "/p", want: "prefix-short"},
		{name: "regex when no prefix matches", path: "/pzz", want: "regex-p"},
		{name: "regexes in config order", path: "/r/xyz", want: "regex-first"},
		{name: "priority overrides exact", path: "/q/x", want: "prio-high"},
		{name: "method condition matches", method: http.MethodPost, path: "/m", want: "post-only"},
		{name: "method condition falls through", path: "/m", want: "m-any"},
		{name: "header exact value", path: "/x", hdr: []string{"X-Env", "canary"}, want: "hdr-canary"},
		{name: "header other value falls through", path: "/x", hdr: []string{"X-Env", "prod"}, want: "hdr-none"},
		{name: "header presence", path: "/x", hdr: []string{"X-Debug", "anything"}, want: "hdr-present"},
		{name: "query value", path: "/qq?v=2", want: "query-v2"},
		{name: "query other value", path: "/qq?v=3", want: "query-none"},
		{name: "respond status and headers", path: "/teapot", status: 418, want: "short and stout"},
		{name: "upstream with rewrite", path: "/svc/users", want: "be /v2/users"},
		{name: "no route matches", path: "/nothing/here", status: http.StatusNotFound},
		{name: "exact path is not a prefix", path: "/p/a/b/c", want: "prefix-long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, inst.URL(tc.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			want := tc.status
			if want == 0 {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, want, body)
			}
			if tc.want != "" && body != tc.want {
				t.Errorf("body = %q, want %q", body, tc.want)
			}
			if tc.path == "/teapot" && resp.Header.Get("X-Pot") != "tea" {
				t.Errorf("respond header X-Pot = %q, want tea", resp.Header.Get("X-Pot"))
			}
		})
	}

	t.Run("redirect", func(t *testing.T) {
		status, _, hdr := get(t, c, inst.URL("/old"), "")
		if status != http.StatusMovedPermanently || hdr.Get("Location") != "/new/old" {
			t.Errorf("redirect = %d Location %q, want 301 /new/old", status, hdr.Get("Location"))
		}
	})
}

// TestPathNormalisation sends dot-segments and doubled slashes raw (a Go
// client might clean them) and expects them routed, and forwarded, as the
// cleaned path, so that a prefix rule cannot be bypassed.
func TestPathNormalisation(t *testing.T) {
	be := newRecorder(t, "admin")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - name: admin
    match: { path: /admin }
    upstream: admin
  - name: app
    match: { path: /app/* }
    respond: { body: app }
upstreams:
  admin: { targets: [ "%s" ] }
`, be.Addr()))
	for _, target := range []string{"/app/../admin", "//admin", "/app/./../admin", "/./admin"} {
		t.Run(target, func(t *testing.T) {
			before := be.Count()
			resp, body, err := rawExchange(inst.Addr, "GET "+target+" HTTP/1.1\r\nHost: n.test\r\nConnection: close\r\n\r\n")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || string(body) != "admin /admin" {
				t.Fatalf("got %d %q, want 200 from the admin backend", resp.StatusCode, body)
			}
			if be.Count() != before+1 {
				t.Fatalf("backend count %d, want %d", be.Count(), before+1)
			}
			if got := be.Last(t).Path; got != "/admin" {
				t.Errorf("backend saw %q, want the cleaned path /admin", got)
			}
		})
	}
}

// TestMethodsAndAbsoluteForm: CONNECT and TRACE are refused unless a route
// lists them; an absolute-form target is routed by our rules and never
// dialed (RFC 9112 §3.2.2: a server must accept absolute-form).
func TestMethodsAndAbsoluteForm(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - name: trace-ok
    match: { path: /trace-ok, methods: [ TRACE ] }
    upstream: be
  - name: all
    match: { path: /* }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))

	cases := []struct {
		name       string
		req        string
		status     int
		backendHit bool
		path       string
	}{
		{name: "CONNECT", req: "CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\n", status: 405},
		{name: "TRACE", req: "TRACE /x HTTP/1.1\r\nHost: t.test\r\n\r\n", status: 405},
		{name: "TRACE allowed by a route", req: "TRACE /trace-ok HTTP/1.1\r\nHost: t.test\r\n\r\n", status: 200, backendHit: true, path: "/trace-ok"},
		{name: "absolute-form", req: "GET http://example.invalid/abs/x?q=1 HTTP/1.1\r\nHost: example.invalid\r\n\r\n", status: 200, backendHit: true, path: "/abs/x?q=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Count()
			resp, body, err := rawExchange(inst.Addr, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			hit := be.Count() > before
			if hit != tc.backendHit {
				t.Fatalf("backend hit = %v, want %v", hit, tc.backendHit)
			}
			if tc.backendHit {
				last := be.Last(t)
				if last.Path != tc.path {
					t.Errorf("backend saw %q, want %q", last.Path, tc.path)
				}
				if tc.name == "absolute-form" && last.Host != "example.invalid" {
					t.Errorf("backend saw Host %q, want example.invalid", last.Host)
				}
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}
