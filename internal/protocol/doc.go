// Package protocol holds the HTTP rules that both of Gatehouse's engines
// (the own HTTP/1.1 engine and the net/http based one) apply, written once
// over the small Header interface so they share code and tests. It does no
// I/O.
//
// It owns:
//   - hop-by-hop field removal and Connection/Upgrade handling
//     (RemoveHopByHop, IsUpgrade; RFC 9110 §7.6.1, §7.8);
//   - trusted proxies and forwarding fields (TrustedSet, ClientIP,
//     SetForwarded; X-Forwarded-* and RFC 7239 Forwarded);
//   - request IDs (NewRequestID, RequestIDGenerator, ValidRequestID);
//   - request path normalisation before routing (CleanPath,
//     CleanRequestPath, HasEncodedSlash; RFC 3986 §5.2.4), and setting a
//     path a middleware rewrote (SetEscapedPath, HasDotSegment);
//   - message framing checks (framing*.go);
//   - the mapping of proxy errors to 502/503/504/499, the error body and
//     its header fields (StatusFor, ErrorBody, SetErrorHeaders; errors.go:
//     the only place that mapping lives);
//   - method properties (IsSafe, IsIdempotent, RefusedByDefault; RFC 9110
//     §9.2).
//
// Everything here is a pure function or an immutable value, safe for
// concurrent use, and the hot-path functions do not allocate in the common
// case (see the benchmarks).
package protocol
