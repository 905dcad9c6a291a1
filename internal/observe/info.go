package observe

import (
	"context"
	"net/netip"
	"time"
)

// RequestInfo is the per-request record shared along the request path: the
// runtime creates it before routing, middleware and the proxy read and fill
// it, and the access log writes it when the response is done.
//
// Ownership: one goroutine (the request's) writes it; fields written after
// the response started (BytesOut, Status) are read only once the handler
// returned. Not safe for concurrent writes.
type RequestInfo struct {
	// ID is the request ID (kept from a trusted client, otherwise generated);
	// "" when request IDs are disabled.
	ID string
	// ClientIP is the real client address after trusted-proxy handling.
	ClientIP netip.Addr
	// Scheme is "http" or "https", as the client used it.
	Scheme string
	// Start is when the runtime began handling the request.
	Start time.Time
	// Route is the matched route's name ("" when none matched).
	Route string
	// Upstream is the pool name and Target the target picked ("" if none).
	Upstream string
	Target   string
	// Pick says why Target was chosen: the policy, and how health
	// narrowed the choice ("p2c_ewma", "p2c_ewma, 1 unavailable skipped",
	// "cookie: sticky", "all unavailable: tried anyway"). A constant
	// string, never built per request.
	Pick string
	// Tries counts the tries sent upstream (1 + retries; 0 if none).
	Tries int
	// UpstreamStart is when the proxy started the upstream exchange and
	// FirstByte the time from then to the response head (0 if none).
	UpstreamStart time.Time
	FirstByte     time.Duration
	// Err is the proxy error behind a 5xx Gatehouse produced, for the log.
	Err error
	// Auth is the auth method that admitted the request ("basic",
	// "api_key", "jwt", "forward"; "" when none ran) and User the
	// identity's name (never a secret; may be "").
	Auth, User string
}

type infoKey struct{}

// WithInfo returns ctx carrying info.
func WithInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the request's info, or nil when ctx carries none (a
// handler used outside the runtime, as in unit tests).
func InfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(infoKey{}).(*RequestInfo)
	return info
}
