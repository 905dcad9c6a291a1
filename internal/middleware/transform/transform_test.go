package transform

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

type seen struct {
	path, rawPath, escaped, query, fwd string
	reached                            bool
}

func run(t testing.TB, settings any, target string, hdr ...string) (*httptest.ResponseRecorder, seen) {
	t.Helper()
	mw, err := New(config.NewMiddlewareSpec(Name, settings), middleware.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var s seen
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s = seen{r.URL.Path, r.URL.RawPath, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-Api-Version"), true}
	}))
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: "rid-5"}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, s
}

var full = map[string]any{
	"versions":       map[string]any{"v1": "/api/v1", "v2": "/api/v2/", "legacy": "/"},
	"path_prefix":    true,
	"header":         "accept-version",
	"default":        "v2",
	"forward_header": "X-API-Version",
}

func TestVersioning(t *testing.T) {
	t.Parallel()
	headerOnly := map[string]any{"versions": map[string]any{"v1": "/api/v1"}, "header": "Accept-Version"}
	pathOnly := map[string]any{"versions": map[string]any{"v1": "/api/v1"}, "path_prefix": true}
	tests := []struct {
		name     string
		settings any
		target   string
		hdr      []string
		escaped  string // as the backend sees it; "" when refused
		fwd      string
		vary     string
	}{
		{"path prefix", full, "/v1/users?x=1", nil, "/api/v1/users", "v1", ""},
		{"path prefix alone", full, "/v1", nil, "/api/v1", "v1", ""},
		{"path prefix slash", full, "/v1/", nil, "/api/v1/", "v1", ""},
		{"path wins over header", full, "/v1/users", []string{"Accept-Version", "v2"}, "/api/v1/users", "v1", ""},
		{"header", full, "/users", []string{"Accept-Version", "v1"}, "/api/v1/users", "v1", "Accept-Version"},
		{"header with spaces", full, "/users", []string{"Accept-Version", "  v1\t"}, "/api/v1/users", "v1", "Accept-Version"},
		{"default", full, "/users", nil, "/api/v2/users", "v2", "Accept-Version"},
		{"root prefix version", full, "/legacy/users", nil, "/users", "legacy", ""},
		{"segment boundary", full, "/v1users", nil, "/api/v2/v1users", "v2", "Accept-Version"},
		{"escaped path kept", full, "/v1/a%2Fb/c%20d", nil, "/api/v1/a%2Fb/c%20d", "v1", ""},
		{"dot segments stay under the prefix", full, "/v1/%2e%2e/%2e%2e/etc", nil, "/api/v1/etc", "v1", ""},
		{"header: dots stay under the prefix", full, "/../admin", []string{"Accept-Version", "v1"}, "/api/v1/admin", "v1", "Accept-Version"},
		{"version case-sensitive", full, "/V1/users", nil, "/api/v2/V1/users", "v2", "Accept-Version"},
		{"header only", headerOnly, "/x", []string{"Accept-Version", "v1"}, "/api/v1/x", "", "Accept-Version"},
		{"header only, missing", headerOnly, "/x", nil, "", "", ""},
		{"path only, missing", pathOnly, "/x", nil, "", "", ""},
		{"path only, root", pathOnly, "/", nil, "", "", ""},
		{"unknown header version", full, "/x", []string{"Accept-Version", "v9"}, "", "", ""},
		{"two header values", full, "/x", []string{"Accept-Version", "v1", "Accept-Version", "v2"}, "", "", ""},
		{"crlf in header", full, "/x", []string{"Accept-Version", "v1\r\nX-Evil: 1"}, "", "", ""},
		{"huge header", full, "/x", []string{"Accept-Version", strings.Repeat("v", 10000)}, "", "", ""},
		{"path traversal in header", full, "/x", []string{"Accept-Version", "../admin"}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, s := run(t, tt.settings, tt.target, tt.hdr...)
			if tt.escaped == "" {
				if w.Code != http.StatusBadRequest || s.reached {
					t.Fatalf("status %d reached %v, want 400 and no backend", w.Code, s.reached)
				}
				if w.Body.String() != "400 Bad Request\nrequest-id: rid-5\n" {
					t.Errorf("body %q", w.Body.String())
				}
				return
			}
			if !s.reached {
				t.Fatalf("status %d, backend not reached", w.Code)
			}
			if s.escaped != tt.escaped {
				t.Errorf("backend path %q, want %q (Path %q RawPath %q)", s.escaped, tt.escaped, s.path, s.rawPath)
			}
			if s.fwd != tt.fwd {
				t.Errorf("X-API-Version %q, want %q", s.fwd, tt.fwd)
			}
			if strings.Contains(tt.target, "?x=1") && s.query != "x=1" {
				t.Errorf("query %q lost", s.query)
			}
			if v := strings.Join(w.Header()["Vary"], ","); v != tt.vary {
				t.Errorf("Vary %q, want %q", v, tt.vary)
			}
		})
	}
}

// The middleware never edits the caller's request (the chain above may
// still hold it).
func TestRequestNotMutated(t *testing.T) {
	t.Parallel()
	mw, err := New(config.NewMiddlewareSpec(Name, full), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/users", nil)
	mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
	if r.URL.Path != "/v1/users" || r.Header.Get("X-Api-Version") != "" {
		t.Errorf("caller's request changed: %q %v", r.URL.Path, r.Header)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings any
		want     string
	}{
		{"no versions", map[string]any{"header": "Accept-Version"}, "versions is required"},
		{"bad name", map[string]any{"versions": map[string]any{"v/1": "/a"}, "path_prefix": true}, "not a version name"},
		{"dot name", map[string]any{"versions": map[string]any{"..": "/a"}, "path_prefix": true}, "not a version name"},
		{"relative prefix", map[string]any{"versions": map[string]any{"v1": "api"}, "path_prefix": true}, "start with '/'"},
		{"dotted prefix", map[string]any{"versions": map[string]any{"v1": "/api/../x"}, "path_prefix": true}, "dot segments"},
		{"query in prefix", map[string]any{"versions": map[string]any{"v1": "/api?x"}, "path_prefix": true}, "plain path"},
		{"nothing selects", map[string]any{"versions": map[string]any{"v1": "/a"}}, "nothing selects"},
		{"bad default", map[string]any{"versions": map[string]any{"v1": "/a"}, "default": "v2"}, "default"},
		{"bad header", map[string]any{"versions": map[string]any{"v1": "/a"}, "header": "Accept Version"}, "header"},
		{"host header", map[string]any{"versions": map[string]any{"v1": "/a"}, "default": "v1", "forward_header": "host"}, "forward_header"},
		{"unknown key", map[string]any{"versions": map[string]any{"v1": "/a"}, "body": "x"}, "body"},
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

// FuzzSelect: for any request path and header, the backend path starts
// with the chosen version's prefix, has no dot segments, and keeps
// Path/RawPath consistent.
func FuzzSelect(f *testing.F) {
	for _, s := range []string{"/v1/users", "/v1", "/x", "/v1/%2e%2e/x", "/v1/a%2Fb", "/legacy/../v1", "//v1//x"} {
		f.Add(s, "v1")
	}
	mw, err := New(config.NewMiddlewareSpec(Name, full), middleware.Env{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p, hv string) {
		r, err := http.NewRequest(http.MethodGet, "http://h"+p, nil)
		if err != nil || !strings.HasPrefix(r.URL.EscapedPath(), "/") {
			return
		}
		r.Header.Set("Accept-Version", hv)
		var got *http.Request
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })).ServeHTTP(httptest.NewRecorder(), r)
		if got == nil {
			return
		}
		esc := got.URL.EscapedPath()
		if !strings.HasPrefix(esc, "/") {
			t.Fatalf("%q → %q", p, esc)
		}
		if protocol.HasDotSegment(got.URL.Path) {
			t.Fatalf("%q → %q has dot segments", p, got.URL.Path)
		}
		if got.URL.RawPath != "" && got.URL.RawPath != esc {
			t.Fatalf("%q → RawPath %q inconsistent with %q", p, got.URL.RawPath, esc)
		}
		if v := got.Header.Get("X-Api-Version"); v != "legacy" {
			c := "/api/" + v
			if !strings.HasPrefix(got.URL.Path, c) {
				t.Fatalf("%q (version %s) → %q outside %s", p, v, got.URL.Path, c)
			}
		}
	})
}

func BenchmarkTransform(b *testing.B) {
	mw, err := New(config.NewMiddlewareSpec(Name, full), middleware.Env{})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/v1/users/42", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
