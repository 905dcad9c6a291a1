// Package ratelimit owns the request-rate and concurrency limits: the
// "ratelimit" middleware (GCRA per key, answering 429 with Retry-After and
// the IETF RateLimit/RateLimit-Policy fields before the backend is touched),
// the "concurrency" middleware (in-flight requests per key), the key
// extraction both share (client IP with prefix lengths, headers, query,
// route, placeholder templates), and the bounded in-memory bucket store.
//
// With cluster.redis configured the rate decisions are made in Redis (see
// internal/cluster.RateLimiter) so N instances enforce one limit; when
// Redis fails the limiter decides locally until Redis answers again.
package ratelimit
