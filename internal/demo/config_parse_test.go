package demo

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
	// The middleware the demo config uses, registered for Build.
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/headers"
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/rewrite"
)

// TestConfigParses checks the demo config against the real loader: strict
// decoding, defaults and validation.
func TestConfigParses(t *testing.T) {
	b := startBackends(t)
	c, err := config.Parse(Config(b, "127.0.0.1:8080"), "demo.yaml")
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if len(c.Listeners) != 1 || c.Listeners[0].Address != "127.0.0.1:8080" {
		t.Errorf("listeners = %+v", c.Listeners)
	}
	if got := c.Upstreams["apps"].Targets; len(got) != 2 {
		t.Errorf("apps targets = %v", got)
	}
	if got := len(c.Routes); got != 7 {
		t.Errorf("%d routes, want 7", got)
	}
	env := middleware.Env{Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	for _, r := range c.Routes {
		// Each chain must build with the real constructors: their settings
		// are decoded strictly only there, not by config.Parse.
		if _, err := middleware.Build(r.Middleware, env); err != nil {
			t.Errorf("route %s: middleware: %v", r.Name, err)
		}
		if r.Name == "apps" && len(r.Middleware) != 2 {
			t.Errorf("apps route has %d middleware, want 2", len(r.Middleware))
		}
		if r.Name == "chat" && r.Timeouts.ResponseHeader.D().Minutes() != 2 {
			t.Errorf("chat response_header = %v, want 2m", r.Timeouts.ResponseHeader.D())
		}
	}
}

// TestConfigRoutes checks which route the real router picks for the
// requests the banner and index page suggest.
func TestConfigRoutes(t *testing.T) {
	c, err := config.Parse(Config(fakeBackends(), "127.0.0.1:8080"), "demo.yaml")
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	r, err := route.Compile(c.Routes)
	if err != nil {
		t.Fatalf("route.Compile: %v", err)
	}
	if w := r.Warnings(); len(w) > 0 {
		t.Errorf("router warnings: %v", w)
	}
	tests := []struct {
		method, host, path, want string
	}{
		{"GET", "127.0.0.1:8080", "/", "index"},
		{"GET", "127.0.0.1:8080", "/app/", "apps"},
		{"GET", "127.0.0.1:8080", "/app/api/hello", "apps"},
		{"GET", "demo.localhost", "/", "host-demo"},
		{"GET", "demo.localhost:8080", "/api/hello", "host-demo"},
		{"POST", "127.0.0.1:8080", "/v1/chat/completions", "chat"},
		{"POST", "127.0.0.1:8080", "/v1/embeddings", "embeddings"},
		{"GET", "127.0.0.1:8080", "/ws/", "websocket"},
		{"GET", "127.0.0.1:8080", "/healthz", "health"},
		{"POST", "127.0.0.1:8080", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.path, func(t *testing.T) {
			i, ok := r.Match(&route.Request{Method: tt.method, Host: tt.host, Path: tt.path, Header: http.Header{}})
			got := ""
			if ok {
				got = r.Name(i)
			}
			if got != tt.want {
				t.Errorf("route %q, want %q", got, tt.want)
			}
		})
	}
}
