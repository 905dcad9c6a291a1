package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
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
	// Cluster is the shared-state connection; never nil in a runtime
	// (a local-only Cluster when no Redis is configured), may be nil in
	// unit tests.
	Cluster *cluster.Cluster
	// State keeps values across reloads (rate-limit buckets, JWKS caches):
	// may be nil in unit tests, then a middleware creates its state anew.
	State State
	// DryRun is set when the configuration is only being checked
	// (`gatehouse validate`, `explain`): build and validate everything, but
	// start no background work and contact no other service.
	DryRun bool
}

// State keeps long-lived values across reloads, keyed by identity
// (DESIGN.md: state survives a reload where identity is the same).
type State interface {
	// Shared returns the value kept under key, creating it with create
	// the first time. The key must encode everything that makes the value
	// different (e.g. "ratelimit|route=api|rate=10/s|burst=20"). A value
	// that implements io.Closer is closed once no runtime uses its key.
	Shared(key string, create func() (any, error)) (any, error)
}

// Shared is State.Shared on env, falling back to create when env carries no
// store (unit tests).
func (env Env) Shared(key string, create func() (any, error)) (any, error) {
	if env.State == nil {
		return create()
	}
	return env.State.Shared(key, create)
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
