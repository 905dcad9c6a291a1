// Package transform owns the "transform" middleware: API versioning. It
// picks an API version from a path prefix ("/v1/users"), a request header
// ("Accept-Version: v1") or a default, and rewrites the request path to
// where the backend serves that version ("/api/v1/users").
//
// Body transformations (JSON rewriting) are deliberately not offered: they
// need the whole body in memory, and the proxy streams (DESIGN.md).
package transform
