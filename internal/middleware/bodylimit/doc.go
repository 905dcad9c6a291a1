// Package bodylimit owns the "body_limit" middleware (alias "body-limit"):
// refusing request bodies larger than a configured size, with 413 at once
// when Content-Length says so, and by counting while the body streams when
// the length is unknown. It never buffers. See docs/middleware.md.
package bodylimit
