package config_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/all"
)

// TestExamplesMiddleware builds every middleware of every example with its
// registered constructor, so an example cannot use a name or a setting that
// does not exist. (The runtime's compile test covers routes and upstreams.)
func TestExamplesMiddleware(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	// Examples reference secrets as ${...}; give them values.
	for _, name := range []string{"ORDERS_API_TOKEN", "INFERENCE_API_KEY"} {
		t.Setenv(name, "example")
	}
	env := middleware.Env{Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse(data, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.Routes {
				for _, spec := range r.Middleware {
					build, ok := middleware.Lookup(spec.Name)
					if !ok {
						t.Errorf("%s: unknown middleware %q", spec.Pos(), spec.Name)
						continue
					}
					if _, err := build(spec, env); err != nil {
						t.Errorf("%s: %v", spec.Pos(), err)
					}
				}
			}
		})
	}
}
