package action

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

func TestRedirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    config.Redirect
		target string // request path and query, set as is
		scheme string // observe.RequestInfo.Scheme; "" for none
		status int
		want   string
	}{
		{"default status", config.Redirect{To: "https://{host}{uri}"}, "/a/b?x=1", "", 302, "https://example.com/a/b?x=1"},
		{"permanent", config.Redirect{To: "https://new.example{path}", Status: 308}, "/p%20q", "", 308, "https://new.example/p%20q"},
		{"scheme from info", config.Redirect{To: "{scheme}://{host}/", Status: 301}, "/", "https", 301, "https://example.com/"},
		{"query only", config.Redirect{To: "/search?{query}"}, "/s?q=go", "", 302, "/search?q=go"},
		{"static", config.Redirect{To: "/maintenance"}, "/x", "", 302, "/maintenance"},
		{"double slash from path", config.Redirect{To: "{path}"}, "//evil.example/x", "", 302, "/evil.example/x"},
		{"backslash from path is escaped", config.Redirect{To: "{path}/"}, `/\evil.example`, "", 302, "/%5Cevil.example/"},
		{"backslash from query", config.Redirect{To: "{query.next}"}, `/?next=/%5Cevil.example`, "", 302, "/evil.example"},
		{"many slashes", config.Redirect{To: "{uri}"}, "///evil.example", "", 302, "/evil.example"},
		{"operator scheme-relative kept", config.Redirect{To: "//cdn.example{path}"}, "/img.png", "", 302, "//cdn.example/img.png"},
		{"control chars encoded", config.Redirect{To: "/to/{query.n}"}, "/x?n=a%0d%0aSet-Cookie:%20x", "", 302, "/to/a%0D%0ASet-Cookie:%20x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewRedirect(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = "", "", ""
			u, err := r.URL.Parse(tt.target)
			if err != nil {
				// Targets like "//evil" parse as an authority: set the path directly.
				t.Fatal(err)
			}
			if strings.HasPrefix(tt.target, "//") || strings.HasPrefix(tt.target, `/\`) {
				r.URL.Path = tt.target
			} else {
				r.URL = u
			}
			if tt.scheme != "" {
				r = r.WithContext(observe.WithInfo(context.Background(), &observe.RequestInfo{Scheme: tt.scheme}))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("Location") != tt.want {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Header().Get("Location"), tt.status, tt.want)
			}
		})
	}
}

// Through a real server: a request for "//evil.example" stays local.
func TestRedirectServer(t *testing.T) {
	t.Parallel()
	h, err := NewRedirect(config.Redirect{To: "{uri}", Status: 301})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.URL.Opaque = "//evil.example/%2e%2e"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "//") || !strings.HasPrefix(loc, "/") {
		t.Errorf("Location = %q", loc)
	}
}

func TestRedirectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.Redirect
		tmpl bool
	}{
		{"no target", config.Redirect{}, false},
		{"bad status", config.Redirect{To: "/x", Status: 200}, false},
		{"304", config.Redirect{To: "/x", Status: 304}, false},
		{"newline", config.Redirect{To: "/x\r\nX: y"}, false},
		{"bad placeholder", config.Redirect{To: "/{nope}"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewRedirect(tt.cfg)
			if !errors.Is(err, ErrConfig) || errors.Is(err, placeholder.ErrInvalid) != tt.tmpl {
				t.Errorf("error = %v", err)
			}
		})
	}
}
