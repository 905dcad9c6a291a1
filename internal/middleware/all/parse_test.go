package all

import (
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// Middleware entries as written in a file decode through the real loader,
// and mistakes carry the file position.
func TestFromYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, chain, wantErr string
	}{
		{"all forms", `
      - headers: { request: { set: { X-A: "v" } }, response: { remove: [Server] } }
      - rewrite: { strip_prefix: /api, regex: { pattern: "^/old/(.*)$", replace: "/new/$1" } }
      - body_limit: 10MB
      - body-limit: { max: 1MB }`, ""},
		{"bad header", `
      - headers: { response: { set: { Content-Length: "1" } } }`, "gw.yaml:"},
		{"bad size", `
      - body_limit: lots`, "gw.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "listeners:\n  - address: \"127.0.0.1:0\"\nroutes:\n  - match: { path: /* }\n    respond: { body: ok }\n    middleware:" + tt.chain + "\n"
			cfg, err := config.Parse([]byte(src), "gw.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = middleware.Build(cfg.Routes[0].Middleware, middleware.Env{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tt.wantErr)
			}
			t.Log(err)
		})
	}
}
