package cors

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// backend answers 200 "ok" and counts the requests it sees; it sets the
// CORS headers a careless backend would, for the override tests.
type backend struct{ hits atomic.Int32 }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	if r.Header.Get("X-Backend-Cors") != "" {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	}
	if v := r.Header.Get("X-Backend-Vary"); v != "" {
		w.Header().Set("Vary", v)
	}
	io.WriteString(w, "ok")
}

func build(t testing.TB, settings any) (http.Handler, *backend) {
	t.Helper()
	mw, err := New(config.NewMiddlewareSpec(Name, settings), middleware.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	be := &backend{}
	h := mw(be)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: "rid-9"}))
		h.ServeHTTP(w, r)
	}), be
}

func do(h http.Handler, method string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/x", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var listPolicy = map[string]any{
	"origins": []any{"https://app.example.com", "https://*.example.org", "http://localhost:3000"},
	"methods": []any{"GET", "PUT", "DELETE"},
	"headers": []any{"Content-Type", "X-Api-Key"},
	"max_age": "10m",
}

var credPolicy = map[string]any{
	"origins":        []any{"https://app.example.com"},
	"methods":        []any{"PATCH"},
	"headers":        []any{"Authorization"},
	"credentials":    true,
	"expose_headers": []any{"x-total-count"},
}

var anyPolicy = map[string]any{"origins": "*", "methods": "*", "headers": "*"}

// TestPreflightMatrix: allowed/denied origin × method × header ×
// credentials. A preflight never reaches the backend.
func TestPreflightMatrix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]any
		origin   string
		method   string
		headers  string
		want     int
		// expected on success
		acao, acac, acam, acah string
	}{
		{"exact origin, listed method", listPolicy, "https://app.example.com", "PUT", "", 204, "https://app.example.com", "", "GET, PUT, DELETE", "content-type, x-api-key"},
		{"wildcard subdomain", listPolicy, "https://a.b.example.org", "DELETE", "x-api-key", 204, "https://a.b.example.org", "", "GET, PUT, DELETE", "content-type, x-api-key"},
		{"port must match", listPolicy, "http://localhost:3000", "GET", "", 204, "http://localhost:3000", "", "GET, PUT, DELETE", "content-type, x-api-key"},
		{"safelisted method not listed", listPolicy, "https://app.example.com", "POST", "", 204, "https://app.example.com", "", "GET, PUT, DELETE", "content-type, x-api-key"},
		{"headers case-insensitive", listPolicy, "https://app.example.com", "PUT", "X-API-KEY, content-type", 204, "https://app.example.com", "", "GET, PUT, DELETE", "content-type, x-api-key"},
		{"denied origin", listPolicy, "https://evil.example.com", "PUT", "", 403, "", "", "", ""},
		{"wildcard needs a label", listPolicy, "https://example.org", "GET", "", 403, "", "", "", ""},
		{"wrong scheme", listPolicy, "http://app.example.com", "GET", "", 403, "", "", "", ""},
		{"wrong port", listPolicy, "http://localhost:3001", "GET", "", 403, "", "", "", ""},
		{"method not allowed", listPolicy, "https://app.example.com", "PATCH", "", 403, "", "", "", ""},
		{"method is case-sensitive", listPolicy, "https://app.example.com", "put", "", 403, "", "", "", ""},
		{"header not allowed", listPolicy, "https://app.example.com", "PUT", "x-api-key, authorization", 403, "", "", "", ""},
		{"credentials echo origin", credPolicy, "https://app.example.com", "PATCH", "authorization", 204, "https://app.example.com", "true", "PATCH", "authorization"},
		{"credentials denied origin", credPolicy, "https://other.example.com", "PATCH", "", 403, "", "", "", ""},
		{"credentials method not allowed", credPolicy, "https://app.example.com", "DELETE", "", 403, "", "", "", ""},
		{"any: star, echo method and headers", anyPolicy, "https://whoever.test", "PURGE", "X-Custom, Authorization", 204, "*", "", "PURGE", "x-custom, authorization"},
		{"any: no request headers", anyPolicy, "https://whoever.test", "GET", "", 204, "*", "", "GET", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, be := build(t, tt.settings)
			hdr := []string{"Origin", tt.origin, "Access-Control-Request-Method", tt.method}
			if tt.headers != "" {
				hdr = append(hdr, "Access-Control-Request-Headers", tt.headers)
			}
			w := do(h, http.MethodOptions, hdr...)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d (headers %v)", w.Code, tt.want, w.Header())
			}
			if n := be.hits.Load(); n != 0 {
				t.Errorf("preflight reached the backend %d times", n)
			}
			got := w.Header()
			if !varyHas(got["Vary"], "Origin") || !varyHas(got["Vary"], hRequestMethod) || !varyHas(got["Vary"], hRequestHeaders) {
				t.Errorf("Vary = %q", got["Vary"])
			}
			if tt.want != 204 {
				for _, n := range []string{hAllowOrigin, hAllowCredentials, hAllowMethods, hAllowHeaders, hMaxAge} {
					if v := got.Get(n); v != "" {
						t.Errorf("refused preflight carries %s: %q", n, v)
					}
				}
				if !strings.HasPrefix(w.Body.String(), "403 Forbidden\nrequest-id: rid-9") || got.Get("Cache-Control") != "no-store" {
					t.Errorf("refusal body %q headers %v", w.Body.String(), got)
				}
				return
			}
			for _, c := range []struct{ name, want string }{
				{hAllowOrigin, tt.acao}, {hAllowCredentials, tt.acac}, {hAllowMethods, tt.acam}, {hAllowHeaders, tt.acah},
			} {
				if v := got.Get(c.name); v != c.want {
					t.Errorf("%s = %q, want %q", c.name, v, c.want)
				}
			}
			if tt.settings["max_age"] != nil && got.Get(hMaxAge) != "600" {
				t.Errorf("Max-Age = %q, want 600", got.Get(hMaxAge))
			}
			if w.Body.Len() != 0 {
				t.Errorf("204 with a body %q", w.Body.String())
			}
		})
	}
}

// TestActualRequests: CORS headers on forwarded requests, Vary merged and
// never duplicated, the backend's own CORS headers replaced.
func TestActualRequests(t *testing.T) {
	t.Parallel()
	noOverride := map[string]any{"origins": []any{"https://app.example.com"}, "override_upstream": false}
	anyNoCred := map[string]any{"origins": "*", "expose_headers": "*"}
	tests := []struct {
		name     string
		settings map[string]any
		method   string
		hdr      []string
		acao     string
		acac     string
		expose   string
		vary     []string // exact Vary field lines
	}{
		{"allowed origin", listPolicy, "GET", []string{"Origin", "https://app.example.com"}, "https://app.example.com", "", "", []string{"Origin"}},
		{"allowed wildcard", listPolicy, "POST", []string{"Origin", "https://x.example.org"}, "https://x.example.org", "", "", []string{"Origin"}},
		{"denied origin: no headers, still Vary", listPolicy, "GET", []string{"Origin", "https://evil.test"}, "", "", "", []string{"Origin"}},
		{"no origin: Vary (answer depends on it)", listPolicy, "GET", nil, "", "", "", []string{"Origin"}},
		{"OPTIONS without request-method is actual", listPolicy, "OPTIONS", []string{"Origin", "https://app.example.com"}, "https://app.example.com", "", "", []string{"Origin"}},
		{"credentials and expose", credPolicy, "GET", []string{"Origin", "https://app.example.com"}, "https://app.example.com", "true", "X-Total-Count", []string{"Origin"}},
		{"vary merged", listPolicy, "GET", []string{"Origin", "https://app.example.com", "X-Backend-Vary", "Accept-Encoding"}, "https://app.example.com", "", "", []string{"Accept-Encoding", "Origin"}},
		{"vary not duplicated", listPolicy, "GET", []string{"Origin", "https://app.example.com", "X-Backend-Vary", "accept-encoding, origin"}, "https://app.example.com", "", "", []string{"accept-encoding, origin"}},
		{"vary star kept", listPolicy, "GET", []string{"Origin", "https://app.example.com", "X-Backend-Vary", "*"}, "https://app.example.com", "", "", []string{"*"}},
		{"backend cors replaced", listPolicy, "GET", []string{"Origin", "https://evil.test", "X-Backend-Cors", "1"}, "", "", "", []string{"Origin"}},
		{"backend cors replaced, allowed", listPolicy, "GET", []string{"Origin", "https://app.example.com", "X-Backend-Cors", "1"}, "https://app.example.com", "", "", []string{"Origin"}},
		{"backend cors kept when asked", noOverride, "GET", []string{"Origin", "https://evil.test", "X-Backend-Cors", "1"}, "*", "true", "", []string{"Origin"}},
		{"star: same for all, no Vary", anyNoCred, "GET", []string{"Origin", "https://a.test"}, "*", "", "*", nil},
		{"star: without origin too", anyNoCred, "GET", nil, "*", "", "*", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, be := build(t, tt.settings)
			w := do(h, tt.method, tt.hdr...)
			if w.Code != 200 || w.Body.String() != "ok" || be.hits.Load() != 1 {
				t.Fatalf("status %d body %q hits %d", w.Code, w.Body.String(), be.hits.Load())
			}
			got := w.Header()
			for _, c := range []struct{ name, want string }{{hAllowOrigin, tt.acao}, {hAllowCredentials, tt.acac}, {hExposeHeaders, tt.expose}} {
				if v := strings.Join(got.Values(c.name), ","); v != c.want {
					t.Errorf("%s = %q, want %q", c.name, v, c.want)
				}
			}
			if strings.Join(got["Vary"], "|") != strings.Join(tt.vary, "|") {
				t.Errorf("Vary = %q, want %q", got["Vary"], tt.vary)
			}
		})
	}
}

// TestHostileInput: malformed origins and preflight fields are refused
// (preflight) or get no CORS headers (actual), and preflights never reach
// the backend.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		hdr    []string
		want   int // 403 for a refused preflight, 200 for an actual request without CORS headers
	}{
		{"null origin", "OPTIONS", []string{"Origin", "null", hRequestMethod, "GET"}, 403},
		{"crlf in origin", "OPTIONS", []string{"Origin", "https://app.example.com\r\nX-Injected: 1", hRequestMethod, "GET"}, 403},
		{"origin with path", "OPTIONS", []string{"Origin", "https://app.example.com/evil", hRequestMethod, "GET"}, 403},
		{"origin with userinfo", "OPTIONS", []string{"Origin", "https://app.example.com@evil.test", hRequestMethod, "GET"}, 403},
		{"suffix attack", "OPTIONS", []string{"Origin", "https://app.example.com.evil.test", hRequestMethod, "GET"}, 403},
		{"wildcard suffix attack", "OPTIONS", []string{"Origin", "https://evilexample.org", hRequestMethod, "GET"}, 403},
		{"wildcard with port trick", "OPTIONS", []string{"Origin", "https://x.example.org:1.evil", hRequestMethod, "GET"}, 403},
		{"two origins", "OPTIONS", []string{"Origin", "https://app.example.com", "Origin", "https://evil.test", hRequestMethod, "GET"}, 403},
		{"origin list in one field", "OPTIONS", []string{"Origin", "https://app.example.com https://evil.test", hRequestMethod, "GET"}, 403},
		{"javascript scheme", "OPTIONS", []string{"Origin", "javascript://app.example.com", hRequestMethod, "GET"}, 403},
		{"huge origin", "OPTIONS", []string{"Origin", "https://" + strings.Repeat("a", 5000) + ".example.org", hRequestMethod, "GET"}, 403},
		{"bad method token", "OPTIONS", []string{"Origin", "https://app.example.com", hRequestMethod, "PU T"}, 403},
		{"two methods", "OPTIONS", []string{"Origin", "https://app.example.com", hRequestMethod, "GET", hRequestMethod, "PUT"}, 403},
		{"crlf in request headers", "OPTIONS", []string{"Origin", "https://app.example.com", hRequestMethod, "GET", hRequestHeaders, "x-api-key\r\nfoo"}, 403},
		{"too many request headers", "OPTIONS", []string{"Origin", "https://app.example.com", hRequestMethod, "GET", hRequestHeaders, strings.Repeat("x-api-key,", 100)}, 403},
		{"ipv6 zone origin", "OPTIONS", []string{"Origin", "http://[fe80::1%25eth0]:3000", hRequestMethod, "GET"}, 403},
		{"actual: crlf origin", "GET", []string{"Origin", "https://app.example.com\r\n"}, 200},
		{"actual: two origins", "GET", []string{"Origin", "https://app.example.com", "Origin", "https://app.example.com"}, 200},
		{"actual: null", "GET", []string{"Origin", "null"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, be := build(t, listPolicy)
			w := do(h, tt.method, tt.hdr...)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if tt.want == 403 && be.hits.Load() != 0 {
				t.Errorf("refused preflight reached the backend")
			}
			if v := w.Header().Get(hAllowOrigin); v != "" {
				t.Errorf("Access-Control-Allow-Origin = %q for hostile input", v)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings any
		want     string
	}{
		{"no origins", map[string]any{"methods": "GET"}, "origins is required"},
		{"star with credentials", map[string]any{"origins": "*", "credentials": true}, "credentials"},
		{"null", map[string]any{"origins": "null"}, "null"},
		{"path", map[string]any{"origins": "https://a.test/x"}, "origins[0]"},
		{"no scheme", map[string]any{"origins": "a.test"}, "origins[0]"},
		{"ftp", map[string]any{"origins": "ftp://a.test"}, "origins[0]"},
		{"star and list", map[string]any{"origins": []any{"*", "https://a.test"}}, "already allows"},
		{"bad method", map[string]any{"origins": "https://a.test", "methods": "GE T"}, "methods[0]"},
		{"bad header", map[string]any{"origins": "https://a.test", "headers": []any{"ok", "x:y"}}, "headers[1]"},
		{"expose star with credentials", map[string]any{"origins": "https://a.test", "credentials": true, "expose_headers": "*"}, "expose_headers"},
		{"negative max age", map[string]any{"origins": "https://a.test", "max_age": "-1s"}, "max_age"},
		{"unknown key", map[string]any{"origin": "https://a.test"}, "origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(config.NewMiddlewareSpec(Name, tt.settings), middleware.Env{})
			if err == nil {
				t.Fatal("New succeeded")
			}
			var list config.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not a config.ErrorList", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// A streamed response behind the middleware still flushes each event, and
// the head carries the CORS headers.
func TestStreaming(t *testing.T) {
	t.Parallel()
	mw, err := New(config.NewMiddlewareSpec(Name, listPolicy), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan struct{})
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 2 {
			io.WriteString(w, "data: "+string(rune('a'+i))+"\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("flush: %v", err)
				return
			}
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get(hAllowOrigin) != "https://app.example.com" {
		t.Errorf("stream head lacks CORS headers: %v", resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 2 {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: "+string(rune('a'+i))+"\n" {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// FuzzOrigin: whatever normalizeOrigin accepts has no characters that could
// split or smuggle a header, and a wildcard pattern only matches origins
// that end in its suffix with at least one more label.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "http://localhost:3000", "https://[::1]:8443", "null", "https://a.example.org", "https://example.org", "https://x.example.org:1.evil", "HTTPS://APP.EXAMPLE.COM", "https://a..example.org", "https://a.example.org/"} {
		f.Add(s)
	}
	wild, err := parsePattern("https://*.example.org")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		o, ok := normalizeOrigin(v)
		if !ok {
			return
		}
		if strings.ContainsAny(o, "\r\n\x00 /?#@,;\t") && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			t.Fatalf("accepted %q", v)
		}
		if strings.ContainsAny(o[strings.Index(o, "://")+3:], "\r\n\x00 /?#@,;\t") {
			t.Fatalf("accepted %q with a forbidden character in the host", v)
		}
		if wild.match(o) {
			host := strings.TrimPrefix(o, "https://")
			if !strings.HasSuffix(host, ".example.org") || host == ".example.org" || strings.Contains(host, ":") {
				t.Fatalf("wildcard matched %q", o)
			}
		}
		if _, err := parsePattern(o); err != nil && o != "null" {
			// Every valid request origin is also a valid exact pattern.
			t.Fatalf("parsePattern(%q): %v", o, err)
		}
	})
}

func BenchmarkActual(b *testing.B) {
	h, _ := build(b, listPolicy)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Origin", "https://a.example.org")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		h.ServeHTTP(w, r)
	}
}
