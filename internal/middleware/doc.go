// Package middleware owns the Middleware type, the registry that maps a
// config name to its constructor (registry.go), building a route's chain
// from its config entries (chain.go), and what several middleware share:
// Gatehouse's error response for a refused request (Refuse, WriteError,
// RequestID; refuse.go) and the response writer that edits the final head
// once while keeping streaming and upgrades working (HeadWriter;
// headwriter.go). Each middleware lives in its own sub-package, registers
// itself from an init function, and is linked into the binary by a blank
// import in internal/middleware/all.
//
// Middleware packages never import each other or internal/runtime.
package middleware
