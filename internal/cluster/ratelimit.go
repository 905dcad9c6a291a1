package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// GCRAResult is one rate-limit decision. Durations are from the decision's
// instant (Redis server time), so they need no synchronised clocks.
type GCRAResult struct {
	// Allowed says whether the request may proceed (and was counted).
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int64
	// RetryAfter is, when refused, how long until one request is allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again (all of the
	// burst available); 0 for a full bucket.
	ResetAfter time.Duration
}

// RateLimiter makes GCRA (generic cell rate algorithm) decisions in Redis,
// so that N instances sharing a Redis enforce one limit. Each decision is
// one atomic Lua script; keys live under the cluster prefix.
//
// It implements the small interface internal/middleware/ratelimit declares
// (STYLE.md 1.4). Safe for concurrent use.
type RateLimiter struct {
	c *Cluster
}

// RateLimiter returns the Redis rate limiter, or nil when the cluster has
// no Redis (callers then decide locally).
func (c *Cluster) RateLimiter() *RateLimiter {
	if c.Redis() == nil {
		return nil
	}
	return &RateLimiter{c: c}
}

// gcraScript is GCRA on the Redis server's clock. Redis TIME, not the
// caller's clock, so that instances whose clocks disagree still share one
// schedule (a skewed instance would otherwise grant or refuse too much).
// Since Redis 5 scripts replicate their effects, so TIME is allowed before
// a write. All times are integer microseconds: now (~1.8e15) and
// interval*burst (validated below 2^53) are exact in Lua's doubles.
//
// The stored value is the theoretical arrival time (TAT); it expires when
// the bucket is full again, so idle keys cost Redis nothing.
//
// KEYS[1] bucket key; ARGV[1] emission interval (µs); ARGV[2] burst.
// Returns {allowed (0/1), remaining, retry_after µs, reset_after µs}.
const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local limit = interval * burst
local new_tat = tat + interval
local diff = new_tat - now
if diff > limit then
  return {0, 0, diff - limit, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(diff / 1000))
return {1, math.floor((limit - diff) / interval), 0, diff}
`

var gcra = redis.NewScript(gcraScript)

// MaxWindow bounds interval*burst (the time an empty bucket takes to
// refill) so that the script's microsecond arithmetic stays exact in Lua's
// doubles: 2^52 µs, about 142 years, far above any sane limit.
const MaxWindow = time.Duration(1<<52) * time.Microsecond

// ErrBadParams is returned for an interval or burst Take cannot use.
var ErrBadParams = errors.New("cluster: invalid rate-limit parameters")

// Take makes one decision for key (the caller's full key; Take adds the
// cluster prefix): interval is the time one request's allowance takes to
// come back (period / count), burst the bucket capacity (>= 1).
//
// Errors wrap ErrUnavailable (Redis failed, timed out, or is in its
// back-off after a failure: no I/O then) or ErrBadParams; the caller then
// decides locally. The request context is not used for cancellation: a
// client going away must not be mistaken for a Redis outage.
func (l *RateLimiter) Take(key string, interval time.Duration, burst int64) (GCRAResult, error) {
	iv := interval.Microseconds()
	if iv < 1 || burst < 1 || burst > int64(MaxWindow/time.Microsecond)/iv {
		return GCRAResult{}, fmt.Errorf("%w: interval %v, burst %d", ErrBadParams, interval, burst)
	}
	h := l.c.health
	if !h.try() {
		return GCRAResult{}, ErrUnavailable
	}
	res, err := gcra.Run(context.Background(), l.c.rdb, []string{l.c.prefix + key}, iv, burst).Int64Slice()
	if err == nil && len(res) != 4 {
		err = fmt.Errorf("script returned %d values, want 4", len(res))
	}
	if err != nil {
		h.fail(err)
		return GCRAResult{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	h.ok()
	return GCRAResult{
		Allowed:    res[0] == 1,
		Remaining:  res[1],
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
		ResetAfter: time.Duration(res[3]) * time.Microsecond,
	}, nil
}
