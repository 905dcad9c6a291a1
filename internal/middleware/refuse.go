package middleware

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// The error responses middleware write themselves. The pure part (the body
// and the fields that go with it) is protocol.ErrorBody and
// protocol.SetErrorHeaders, shared with the runtime, the proxy and the own
// engine. Writing it to an http.ResponseWriter lives here, not in
// protocol, because protocol does no I/O (the own engine writes its
// responses without an http.ResponseWriter); the runtime and the proxy,
// which do not import middleware, write the same two fields and body
// themselves.

// RequestID returns the request ID from r's observe.RequestInfo, or "" when
// r carries none (a handler used outside the runtime) or IDs are disabled.
func RequestID(r *http.Request) string {
	if info := observe.InfoFrom(r.Context()); info != nil {
		return info.ID
	}
	return ""
}

// WriteError writes Gatehouse's own error response for status to w: the
// short body of protocol.ErrorBody with r's request ID (no error text,
// nothing from a backend), with the fields of protocol.SetErrorHeaders.
// Fields the caller set on w.Header() before (WWW-Authenticate,
// Retry-After, RateLimit) are kept; fields that describe another body must
// be removed first. No body is sent for HEAD (RFC 9110 §9.3.2); the
// Content-Length is still the one a GET would get (§8.6).
//
// The connection stays open: use Refuse for a request turned away with its
// body unread. A write error means the client left; it is ignored.
func WriteError(w http.ResponseWriter, r *http.Request, status int) {
	body := protocol.ErrorBody(status, RequestID(r))
	protocol.SetErrorHeaders(w.Header(), body)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// Refuse is WriteError for a request turned away before its body was read:
// on HTTP/1 with a body (a Content-Length other than 0, or chunked), it
// also sends "Connection: close", so the server does not read the unread
// body just to find the next request (RFC 9112 §9.6). Never on HTTP/2 and
// later, where net/http would turn it into a GOAWAY for every stream of the
// connection (RFC 9113 §8.2.2 forbids the field).
func Refuse(w http.ResponseWriter, r *http.Request, status int) {
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
	WriteError(w, r, status)
}
