package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Middleware wraps the rest of a route's chain (DESIGN.md: every feature that
// acts on a request is one).
type Middleware = func(http.Handler) http.Handler

// Env carries what a middleware may need from its surroundings, injected so
// tests control it (DESIGN.md: time and randomness are injected).
type Env struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// Constructor builds a middleware from its config entry. It decodes its own
// settings with spec.Decode (strict, positioned errors) and validates them;
// it returns an error, never panics. The returned Middleware may be applied
// to many handlers and called concurrently.
type Constructor func(spec config.MiddlewareSpec, env Env) (Middleware, error)

// registry maps config names to constructors. Filled by init functions of
// the middleware packages at start-up, read-only afterwards (STYLE.md 1.8).
var registry = map[string]Constructor{}

// Register makes c available under name. It panics on a duplicate name: that
// is a programming error found at start-up.
func Register(name string, c Constructor) {
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("middleware: %q registered twice", name))
	}
	registry[name] = c
}

// Lookup returns the constructor registered under name.
func Lookup(name string) (Constructor, bool) {
	c, ok := registry[name]
	return c, ok
}

// Names returns the registered names, sorted (for hints in errors).
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
