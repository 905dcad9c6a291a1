package rewrite

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// seen is what the next handler observed.
type seen struct{ path, rawPath, escaped, query string }

func TestRewrite(t *testing.T) {
	t.Parallel()
	re := func(p, r string) map[string]any { return map[string]any{"pattern": p, "replace": r} }
	tests := []struct {
		name     string
		settings map[string]any
		target   string // request target as sent
		want     seen
	}{
		{"strip", map[string]any{"strip_prefix": "/api"}, "/api/x?a=1", seen{"/x", "", "/x", "a=1"}},
		{"strip exact", map[string]any{"strip_prefix": "/api"}, "/api", seen{"/", "", "/", ""}},
		{"strip trailing slash config", map[string]any{"strip_prefix": "/api/"}, "/api/x", seen{"/x", "", "/x", ""}},
		{"strip not on boundary", map[string]any{"strip_prefix": "/api"}, "/apix", seen{"/apix", "", "/apix", ""}},
		{"strip absent", map[string]any{"strip_prefix": "/api"}, "/other/api", seen{"/other/api", "", "/other/api", ""}},
		{"strip keeps encoded slash", map[string]any{"strip_prefix": "/api"}, "/api/a%2Fb", seen{"/a/b", "/a%2Fb", "/a%2Fb", ""}},
		{"strip encoded prefix", map[string]any{"strip_prefix": "/my api"}, "/my%20api/x%20y", seen{"/x y", "", "/x%20y", ""}},
		{"strip encoded slash is not a boundary", map[string]any{"strip_prefix": "/api"}, "/api%2Fx", seen{"/api/x", "/api%2Fx", "/api%2Fx", ""}},
		{"add", map[string]any{"add_prefix": "/v2"}, "/x", seen{"/v2/x", "", "/v2/x", ""}},
		{"add to root", map[string]any{"add_prefix": "/v2"}, "/", seen{"/v2/", "", "/v2/", ""}},
		{"strip then add", map[string]any{"strip_prefix": "/api", "add_prefix": "/v2"}, "/api/users?id=3", seen{"/v2/users", "", "/v2/users", "id=3"}},
		{"regex", map[string]any{"regex": re("^/old/(.*)$", "/new/$1")}, "/old/a/b", seen{"/new/a/b", "", "/new/a/b", ""}},
		{"regex keeps encoding", map[string]any{"regex": re("^/old/(.*)$", "/new/$1")}, "/old/a%2Fb%20c", seen{"/new/a/b c", "/new/a%2Fb%20c", "/new/a%2Fb%20c", ""}},
		{"regex result gets a slash", map[string]any{"regex": re("^/old/", "")}, "/old/x", seen{"/x", "", "/x", ""}},
		{"regex named group", map[string]any{"regex": re("^/u/(?P<id>[0-9]+)$", "/users/${id}")}, "/u/42", seen{"/users/42", "", "/users/42", ""}},
		{"order strip regex add", map[string]any{"strip_prefix": "/api", "regex": re("^/old", "/new"), "add_prefix": "/v2"}, "/api/old/x", seen{"/v2/new/x", "", "/v2/new/x", ""}},
		{"encoded dots cannot escape added prefix", map[string]any{"add_prefix": "/public"}, "/%2e%2e/admin", seen{"/admin", "", "/admin", ""}},
		{"regex split escape taken literally", map[string]any{"regex": re("^/(.)(.*)$", "/$2$1")}, "/%41", seen{"/41%", "", "/41%25", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mw, err := New(config.NewMiddlewareSpec(Name, tt.settings), middleware.Env{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got := make(chan seen, 1)
			srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- seen{r.URL.Path, r.URL.RawPath, r.URL.EscapedPath(), r.URL.RawQuery}
			})))
			defer srv.Close()
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.target // send the target byte for byte
			req.URL.RawQuery = ""
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if g := <-got; g != tt.want {
				t.Errorf("got %+v, want %+v", g, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"empty", map[string]any{}, "nothing to do"},
		{"relative strip", map[string]any{"strip_prefix": "api"}, "must start with '/'"},
		{"query in add", map[string]any{"add_prefix": "/v2?x"}, "plain path"},
		{"dots in prefix", map[string]any{"add_prefix": "/a/../b"}, "dot segments"},
		{"bad regex", map[string]any{"regex": map[string]any{"pattern": "(", "replace": "/"}}, "regex.pattern"},
		{"missing group", map[string]any{"regex": map[string]any{"pattern": "^/(a)$", "replace": "/$2"}}, "has 1 groups"},
		{"missing named group", map[string]any{"regex": map[string]any{"pattern": "^/(a)$", "replace": "/${x}"}}, "no group"},
		{"unknown key", map[string]any{"strip": "/a"}, "strip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(config.NewMiddlewareSpec(Name, tt.settings), middleware.Env{})
			var list config.ErrorList
			if !errors.As(err, &list) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want a config.ErrorList mentioning %q", err, tt.want)
			}
		})
	}
}

// FuzzRewrite checks the invariants on any input path: the result starts
// with '/', Path and RawPath agree, and no dot segment survives.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{"/", "/api", "/api/x", "/api%2Fx", "/%2e%2e/x", "/old/a%20b", "/a/../b", "//x", "/%zz"} {
		f.Add(s)
	}
	rw, err := Compile(Config{StripPrefix: "/api", AddPrefix: "/v2", Regex: &Regex{Pattern: "^/old/(.*)$", Replace: "/new/$1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path, r.URL.RawPath = p, ""
		var got *http.Request
		rw.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })).ServeHTTP(httptest.NewRecorder(), r)
		if got.URL.EscapedPath() == r.URL.EscapedPath() && got == r {
			return
		}
		if !strings.HasPrefix(got.URL.Path, "/") {
			t.Fatalf("%q → Path %q", p, got.URL.Path)
		}
		if protocol.HasDotSegment(got.URL.Path) {
			t.Fatalf("%q → Path %q has dot segments", p, got.URL.Path)
		}
		if got.URL.RawPath != "" && got.URL.EscapedPath() != got.URL.RawPath {
			t.Fatalf("%q → RawPath %q inconsistent with Path %q", p, got.URL.RawPath, got.URL.Path)
		}
	})
}

func BenchmarkRewrite(b *testing.B) {
	rw, err := Compile(Config{StripPrefix: "/api", AddPrefix: "/v2"})
	if err != nil {
		b.Fatal(err)
	}
	h := rw.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/api/users/42", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
