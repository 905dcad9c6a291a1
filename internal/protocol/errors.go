package protocol

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// This file is the one place where proxy failures map to HTTP status codes
// (STYLE §1.7). The proxy, the own engine and the upstream pools return or
// wrap these sentinels; only StatusFor turns an error into a status.

// Proxy failure sentinels. Wrap them with %w and context (never match on
// text); StatusFor maps them.
var (
	// ErrNoTarget: the upstream has no healthy, available target (all
	// down, breakers open, or the pool is empty). Maps to 503.
	ErrNoTarget = errors.New("no healthy upstream target")
	// ErrBodyTooLarge: the client's request body went past a configured
	// limit while it was being read (and streamed upstream). Maps to 413
	// (RFC 9110 §15.5.14) when no response has started.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrOverloaded: a limit refused the request before it was sent
	// (per-target connection cap, queue full). Maps to 503.
	ErrOverloaded = errors.New("upstream over capacity")
	// ErrUpstreamConnect: connecting to the target failed, so the request
	// was never sent and may be retried on another target. Maps to 502,
	// or 504 when the wrapped cause is a timeout.
	ErrUpstreamConnect = errors.New("upstream connect failed")
	// ErrResponseHeaderTimeout: the target accepted the request but sent
	// no response header in time. Maps to 504.
	ErrResponseHeaderTimeout = errors.New("upstream response header timeout")
	// ErrIdleTimeout: the upstream exchange went idle (no bytes either
	// way) for longer than allowed. Maps to 504.
	ErrIdleTimeout = errors.New("upstream idle timeout")
	// ErrTotalTimeout: the whole upstream exchange exceeded its deadline.
	// Maps to 504.
	ErrTotalTimeout = errors.New("upstream total timeout")
)

// StatusClientClosedRequest (499, nginx's code) records that the client
// went away before a response was written. It appears in logs and metrics
// only: nothing is written to the (gone) client.
const StatusClientClosedRequest = 499

// StatusFor returns the status for a proxy error, matching with errors.Is
// and errors.As so wrapped errors map like their cause. In order:
//   - ErrBodyTooLarge → 413 Content Too Large (a body limit stopped the
//     upload mid-stream);
//   - ErrNoTarget, ErrOverloaded → 503 Service Unavailable (RFC 9110
//     §15.6.4: a temporary condition of the server side);
//   - context.Canceled → 499: the client went away (its request context
//     was cancelled); log it, write nothing;
//   - ErrResponseHeaderTimeout, ErrIdleTimeout, ErrTotalTimeout,
//     context.DeadlineExceeded, or any net.Error whose Timeout() is true
//     (dial, read and TLS handshake timeouts, http.Transport's
//     ResponseHeaderTimeout) → 504 Gateway Timeout (RFC 9110 §15.6.5);
//   - anything else (connection refused or reset, EOF before a response,
//     DNS failure, TLS errors, malformed responses) → 502 Bad Gateway
//     (RFC 9110 §15.6.3).
//
// StatusFor(nil) is 0: there is nothing to map, and callers must not write
// 0 as a status.
func StatusFor(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNoTarget), errors.Is(err, ErrOverloaded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	case isTimeout(err):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, ErrResponseHeaderTimeout) || errors.Is(err, ErrIdleTimeout) ||
		errors.Is(err, ErrTotalTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// StatusText returns the reason phrase for code: http.StatusText, plus
// "Client Closed Request" for 499. Unknown codes give "".
func StatusText(code int) string {
	if code == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	return http.StatusText(code)
}

// ErrorBody returns the plain-text body Gatehouse sends with an error
// status: "502 Bad Gateway\nrequest-id: <id>\n". It never holds error text,
// addresses or anything else from the failure, so nothing about the backend
// leaks to the client. requestID is included only if ValidRequestID accepts
// it (so a forged ID cannot inject text); otherwise that line is left out.
// Send it with the fields SetErrorHeaders sets. A new slice on each call.
func ErrorBody(status int, requestID string) []byte {
	text := StatusText(status)
	b := make([]byte, 0, 48+len(requestID))
	b = strconv.AppendInt(b, int64(status), 10)
	if text != "" {
		b = append(b, ' ')
		b = append(b, text...)
	}
	b = append(b, '\n')
	if ValidRequestID(requestID) {
		b = append(b, "request-id: "...)
		b = append(b, requestID...)
		b = append(b, '\n')
	}
	return b
}

// SetErrorHeaders sets on h the fields that go with an ErrorBody body, so
// the errors the runtime, the proxy and the middleware write look the
// same (h is the small Header interface, so the own engine can use it
// too):
//   - Content-Type: text/plain; charset=utf-8, and X-Content-Type-Options:
//     nosniff, so a browser never sniffs the body as HTML;
//   - Content-Length: len(body) (RFC 9110 §8.6), so the response is
//     delimited without chunking;
//   - Cache-Control: no-store (RFC 9111 §5.2.2.5): an error is about this
//     moment and this request (a limit, a credential, a backend state), and
//     a shared cache must not replay it.
//
// Other fields already in h (Retry-After, WWW-Authenticate, the request ID
// header) are kept; fields describing another body must be removed by the
// caller. It only edits h: writing the head and body is the caller's (this
// package does no I/O, and the own engine writes without an
// http.ResponseWriter).
func SetErrorHeaders(h Header, body []byte) {
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}
