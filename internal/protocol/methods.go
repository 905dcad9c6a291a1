package protocol

import "net/http"

// Method names are case-sensitive (RFC 9110 §9.1): "get" is not GET, so
// these helpers compare exactly.

// IsSafe reports whether method is safe per RFC 9110 §9.2.1: GET, HEAD,
// OPTIONS and TRACE are read-only by definition. Unknown methods are not
// safe.
func IsSafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// IsIdempotent reports whether method is idempotent per RFC 9110 §9.2.2:
// the safe methods plus PUT and DELETE. Only an idempotent request may be
// retried automatically after a failure that may have reached the backend
// (RFC 9110 §9.2.2, RFC 9112 §9.3.1). Unknown methods are not idempotent;
// an Idempotency-Key header is not considered here.
func IsIdempotent(method string) bool {
	switch method {
	case http.MethodPut, http.MethodDelete:
		return true
	}
	return IsSafe(method)
}

// RefusedByDefault reports whether method is answered 405 Method Not
// Allowed unless a route names it explicitly in its method match:
//   - TRACE (RFC 9110 §9.3.8) echoes the request, headers included, back
//     to the client; with a proxy in front that reflects cookies and
//     credentials to script (cross-site tracing, XST). RFC 9110 §9.3.8:
//     a client "SHOULD NOT generate fields in a TRACE request containing
//     sensitive data".
//   - CONNECT (RFC 9110 §9.3.6) asks for a tunnel to an arbitrary
//     host:port; answering it would turn the gateway into an open forward
//     proxy.
func RefusedByDefault(method string) bool {
	return method == http.MethodConnect || method == http.MethodTrace
}
