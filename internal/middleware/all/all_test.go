package all

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

func TestRegistered(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"headers", "rewrite", "body_limit", "body-limit", "auth", "cors", "hide", "ip",
		"ratelimit", "rate_limit", "concurrency", "request_limits", "request-limits", "transform", "waf", "compress", "cache"} {
		t.Run(name, func(t *testing.T) {
			if _, ok := middleware.Lookup(name); !ok {
				t.Errorf("%q is not registered", name)
			}
		})
	}
}

// A chain built from config runs in config order and ends in the handler.
func TestBuildAndChain(t *testing.T) {
	t.Parallel()
	specs := []config.MiddlewareSpec{
		config.NewMiddlewareSpec("rewrite", map[string]any{"strip_prefix": "/api"}),
		config.NewMiddlewareSpec("headers", map[string]any{"request": map[string]any{"set": map[string]any{"X-Path": "{path}"}}}),
		config.NewMiddlewareSpec("body_limit", "1KB"),
	}
	mws, err := middleware.Build(specs, middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("X-Path")))
	}), mws...)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/users", nil))
	if got := w.Body.String(); got != "/users" {
		t.Errorf("X-Path seen = %q, want /users (rewrite runs first)", got)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	specs := []config.MiddlewareSpec{
		config.NewMiddlewareSpec("nope", nil),
		config.NewMiddlewareSpec("rewrite", map[string]any{"strip_prefix": "api"}),
	}
	_, err := middleware.Build(specs, middleware.Env{})
	var list config.ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("error = %v, want two errors", err)
	}
	if !strings.Contains(list[0].Msg, `unknown middleware "nope"`) || !strings.Contains(list[0].Hint, "headers") {
		t.Errorf("first error %q hint %q", list[0].Msg, list[0].Hint)
	}
}
