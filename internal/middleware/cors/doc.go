// Package cors owns the "cors" middleware: Cross-Origin Resource Sharing
// as the Fetch standard (https://fetch.spec.whatwg.org/#http-cors-protocol)
// defines it. Gatehouse answers preflight requests itself (they never reach
// the backend), adds the Access-Control-* response headers to actual
// requests from allowed origins, replaces whatever CORS headers the backend
// sent (by default), and keeps Vary: Origin correct so caches never serve
// one origin's answer to another.
package cors
