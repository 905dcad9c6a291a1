// Package middleware owns the Middleware type, the registry that maps a
// config name to its constructor (registry.go), and building a route's chain
// from its config entries (chain.go). Each middleware lives in its own
// sub-package, registers itself from an init function, and is linked into
// the binary by a blank import in internal/middleware/all.
//
// Middleware packages never import each other or internal/runtime.
package middleware
