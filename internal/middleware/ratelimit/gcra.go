package ratelimit

import "time"

// Decision is the outcome of one rate-limit check.
type Decision struct {
	// Allowed says whether the request proceeds (and was counted).
	Allowed bool
	// Remaining is how many more requests are allowed right now.
	Remaining int64
	// RetryAfter is, when refused, the time until one request is allowed.
	RetryAfter time.Duration
	// ResetAfter is the time until the whole burst is available again.
	ResetAfter time.Duration
}

// gcra is the generic cell rate algorithm (ITU-T I.371's virtual
// scheduling; equivalent to a token bucket of capacity burst refilled one
// token per interval) on one bucket: tat is its theoretical arrival time in
// unix nanoseconds (0 for a new bucket). It returns the new tat (unchanged
// when refused) and the decision. The Lua script in internal/cluster is
// the same computation in microseconds on Redis' clock.
func gcra(tat, now int64, interval time.Duration, burst int64) (int64, Decision) {
	iv := int64(interval)
	if tat < now {
		tat = now
	}
	limit := iv * burst
	newTat := tat + iv
	diff := newTat - now
	if diff > limit {
		return tat, Decision{RetryAfter: time.Duration(diff - limit), ResetAfter: time.Duration(tat - now)}
	}
	return newTat, Decision{Allowed: true, Remaining: (limit - diff) / iv, ResetAfter: time.Duration(diff)}
}

// nextUnit is the time until one more request is regained after d (the
// "t" of the RateLimit field): within it the client can use no more than
// d.Remaining, which is what the draft's effective window promises.
func nextUnit(d Decision, interval time.Duration) time.Duration {
	if !d.Allowed {
		return d.RetryAfter
	}
	if d.ResetAfter <= 0 {
		return 0
	}
	if r := d.ResetAfter % interval; r != 0 {
		return r
	}
	return interval
}

// ceilSeconds rounds d up to whole seconds, as delay-seconds (RFC 9110
// section 10.2.3) need: rounding down would invite a retry that is refused.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
