package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Tests of the small gateway middlewares (ip, cors, hide, transform,
// request_limits) through the real binary. Helpers here carry the gw
// prefix.

// gwDo sends one request with headers and returns status, body, headers.
func gwDo(t *testing.T, c *http.Client, method, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// TestGatewayIPRules: allow/deny lists on an IPv4 and an IPv6 listener;
// refused requests get 403 with Gatehouse's body and never reach the
// backend.
func TestGatewayIPRules(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners:
  - { name: v4, address: "127.0.0.1:0" }
  - { name: v6, address: "[::1]:0" }
routes:
  - match: { path: /v4only/* }
    middleware: [ { ip: { allow: [ "127.0.0.0/8" ] } } ]
    upstream: be
  - match: { path: /v6only/* }
    middleware: [ { ip: { allow: [ "::1" ] } } ]
    upstream: be
  - match: { path: /no6/* }
    middleware: [ { ip: { deny: [ "::/0" ] } } ]
    upstream: be
  - match: { path: /mixed/* }
    middleware: [ { ip: { allow: [ "127.0.0.0/8", "::1/128" ], deny: [ "127.0.0.2" ] } } ]
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))
	v4, v6 := inst.Addrs["v4"], inst.Addrs["v6"]
	if v4 == "" || v6 == "" {
		t.Fatalf("listeners %v, want v4 and v6", inst.Addrs)
	}
	c := newClient(t)
	tests := []struct {
		addr, path string
		want       int
	}{
		{v4, "/v4only/x", 200},
		{v6, "/v4only/x", 403},
		{v6, "/v6only/x", 200},
		{v4, "/v6only/x", 403},
		{v4, "/no6/x", 200},
		{v6, "/no6/x", 403},
		{v4, "/mixed/x", 200},
		{v6, "/mixed/x", 200},
	}
	for _, tt := range tests {
		t.Run(tt.addr+tt.path, func(t *testing.T) {
			before := be.Count()
			// A spoofed X-Forwarded-For from an untrusted peer changes nothing.
			status, body, hdr := gwDo(t, c, http.MethodGet, "http://"+tt.addr+tt.path, "X-Forwarded-For", "127.0.0.1, ::1")
			if status != tt.want {
				t.Fatalf("status %d, want %d (body %q)", status, tt.want, body)
			}
			if tt.want == 403 {
				assertErrorBody(t, body, hdr, be.Addr())
				if be.Count() != before {
					t.Errorf("a refused request reached the backend")
				}
			}
		})
	}
}

// TestGatewayCORS: preflights are answered by Gatehouse and never
// forwarded; actual requests get the CORS headers and Vary: Origin.
func TestGatewayCORS(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    middleware:
      - cors:
          origins: [ "https://app.example.com", "https://*.example.org" ]
          methods: [ GET, PUT ]
          headers: [ Content-Type, Authorization ]
          credentials: true
          max_age: 1h
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))
	c := newClient(t)
	tests := []struct {
		name   string
		origin string
		method string
		hdrs   string
		want   int
	}{
		{"allowed", "https://app.example.com", "PUT", "authorization, content-type", 204},
		{"allowed wildcard", "https://a.example.org", "GET", "", 204},
		{"denied origin", "https://evil.test", "PUT", "", 403},
		{"denied method", "https://app.example.com", "DELETE", "", 403},
		{"denied header", "https://app.example.com", "PUT", "x-evil", 403},
		{"malformed origin", "https://app.example.com/path", "PUT", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := []string{"Origin", tt.origin, "Access-Control-Request-Method", tt.method}
			if tt.hdrs != "" {
				hdr = append(hdr, "Access-Control-Request-Headers", tt.hdrs)
			}
			status, body, h := gwDo(t, c, http.MethodOptions, inst.URL("/api/items"), hdr...)
			if status != tt.want {
				t.Fatalf("status %d, want %d", status, tt.want)
			}
			if tt.want == 204 {
				if h.Get("Access-Control-Allow-Origin") != tt.origin || h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") != "3600" {
					t.Errorf("preflight headers %v", h)
				}
			} else {
				assertErrorBody(t, body, h, be.Addr())
				if v := h.Get("Access-Control-Allow-Origin"); v != "" {
					t.Errorf("refused preflight carries ACAO %q", v)
				}
			}
		})
	}
	if n := be.Count(); n != 0 {
		t.Errorf("preflights reached the backend %d times", n)
	}
	status, body, h := gwDo(t, c, http.MethodGet, inst.URL("/api/items"), "Origin", "https://app.example.com")
	if status != 200 || body != "be /api/items" {
		t.Fatalf("actual request: %d %q", status, body)
	}
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("actual response headers %v", h)
	}
}

// TestGatewayHide: backend identity headers are gone, a backend 5xx page is
// replaced with Gatehouse's, other responses pass unchanged.
func TestGatewayHide(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.1 (Unix)")
		w.Header().Set("X-Powered-By", "PHP/5.6")
		w.Header().Set("X-AspNet-Version", "4.0.30319")
		w.Header().Set("X-Runtime", "0.01")
		w.Header().Set("X-App", "kept")
		if r.URL.Path == "/boom" {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "Fatal error: mysqli_connect(10.1.2.3) in /var/www/index.php")
			return
		}
		io.WriteString(w, "fine")
	}))
	t.Cleanup(be.Close)
	beAddr := strings.TrimPrefix(be.URL, "http://")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    middleware: [ { hide: { error_pages: true } } ]
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, beAddr))
	c := newClient(t)
	for _, p := range []string{"/ok", "/boom"} {
		status, body, h := gwDo(t, c, http.MethodGet, inst.URL(p))
		for _, n := range []string{"Server", "X-Powered-By", "X-AspNet-Version", "X-Runtime"} {
			if v := h.Get(n); v != "" {
				t.Errorf("%s: %s = %q reached the client", p, n, v)
			}
		}
		if h.Get("X-App") != "kept" {
			t.Errorf("%s: X-App removed", p)
		}
		switch p {
		case "/ok":
			if status != 200 || body != "fine" {
				t.Errorf("/ok: %d %q", status, body)
			}
		case "/boom":
			if status != 500 || !strings.HasPrefix(body, "500 Internal Server Error\n") {
				t.Errorf("/boom: %d %q", status, body)
			}
			assertErrorBody(t, body, h, beAddr)
			if strings.Contains(body, "mysqli") {
				t.Errorf("backend error page leaked: %q", body)
			}
		}
	}
}

// TestGatewayVersionsAndLimits: transform rewrites to the backend's
// versioned path; request_limits refuses before the backend.
func TestGatewayVersionsAndLimits(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    middleware:
      - request_limits: { max_headers: 20, max_url_bytes: 100B, max_query_params: 3 }
      - transform:
          versions: { v1: /api/v1, v2: /api/v2 }
          path_prefix: true
          header: Accept-Version
          default: v2
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))
	c := newClient(t)
	tests := []struct {
		name, path string
		hdr        []string
		want       int
		backend    string // path the backend saw
	}{
		{"path prefix", "/v1/users?a=1", nil, 200, "/api/v1/users?a=1"},
		{"header", "/users", []string{"Accept-Version", "v1"}, 200, "/api/v1/users"},
		{"default", "/users", nil, 200, "/api/v2/users"},
		{"unknown version", "/users", []string{"Accept-Version", "v7"}, 400, ""},
		{"long url", "/" + strings.Repeat("a", 120), nil, 414, ""},
		{"too many params", "/users?a&b&c&d", nil, 400, ""},
		{"too many headers", "/users", strings.Split(strings.Repeat("X-Pad,1,", 20), ","), 431, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := be.Count()
			status, body, h := gwDo(t, c, http.MethodGet, inst.URL(tt.path), tt.hdr...)
			if status != tt.want {
				t.Fatalf("status %d, want %d (body %q)", status, tt.want, body)
			}
			if tt.want != 200 {
				assertErrorBody(t, body, h, be.Addr())
				if be.Count() != before {
					t.Errorf("a refused request reached the backend")
				}
				return
			}
			if got := be.Last(t).Path; got != tt.backend {
				t.Errorf("backend saw %q, want %q", got, tt.backend)
			}
		})
	}
}
