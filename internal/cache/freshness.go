package cache

import (
	"net/http"
	"time"
)

// heuristicStatus lists the status codes that are heuristically cacheable
// (RFC 9110 §15.1): a response with one may be stored and given a
// heuristic lifetime without explicit freshness.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// freshnessLifetime computes §4.2.1's freshness_lifetime for a shared
// cache: s-maxage, then max-age, then Expires minus Date, then a heuristic
// (§4.2.2) where allowed. Operator overrides (force_ttl) come first.
func (c *Cache) freshnessLifetime(e *Entry) time.Duration {
	if d, ok := c.opts.ForceTTL[e.Status]; ok {
		return d
	}
	cc := e.cc
	if cc.SMaxAge >= 0 {
		return time.Duration(cc.SMaxAge) * time.Second
	}
	if cc.MaxAge >= 0 {
		return time.Duration(cc.MaxAge) * time.Second
	}
	if exp, ok := e.Header["Expires"]; ok && len(exp) > 0 {
		t, err := http.ParseTime(exp[0])
		if err != nil {
			// §5.3: an invalid Expires (e.g. "0") means already expired.
			return 0
		}
		d := t.Sub(e.date())
		if d < 0 {
			return 0
		}
		return d
	}
	// §4.2.2: a heuristic only without explicit expiration and for a
	// heuristically cacheable status or a response marked public.
	if !heuristicStatus(e.Status) && !cc.Public {
		return 0
	}
	if c.opts.DefaultTTL > 0 {
		return c.opts.DefaultTTL
	}
	if !e.lastMod.IsZero() {
		// §4.2.2: a typical heuristic is 10% of the time since
		// Last-Modified; capped so a years-old file is not kept for months.
		d := e.date().Sub(e.lastMod) / 10
		if d < 0 {
			return 0
		}
		return min(d, c.opts.HeuristicMax)
	}
	return 0
}

// date is the response's Date, or response_time when it has none or an
// invalid one (RFC 9110 §6.6.1: a recipient with a clock adds one).
func (e *Entry) date() time.Time {
	if v := e.Header.Get("Date"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return e.RespTime
}

// initialAge is §4.2.3's corrected_initial_age:
//
//	apparent_age = max(0, response_time - date_value)
//	response_delay = response_time - request_time
//	corrected_age_value = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//
// apparent_age is clamped at 0, so a backend whose clock runs ahead (a
// Date in our future) does not make responses younger than the Age it
// claims plus the time the exchange took.
func initialAge(e *Entry) time.Duration {
	apparent := e.RespTime.Sub(e.date())
	if apparent < 0 {
		apparent = 0
	}
	var ageValue time.Duration
	if v := e.Header.Get("Age"); v != "" {
		// §5.1: Age is delta-seconds; an invalid one is ignored.
		if n, ok := delta(v); ok {
			ageValue = time.Duration(n) * time.Second
		}
	}
	delay := e.RespTime.Sub(e.ReqTime)
	if delay < 0 {
		delay = 0
	}
	return max(apparent, ageValue+delay)
}

// mayServeStale says whether the response allows serving it stale at all:
// must-revalidate, proxy-revalidate and s-maxage forbid it in a shared
// cache (§5.2.2.2, §5.2.2.8, §5.2.2.10), and so does an unqualified
// no-cache (it must be validated every time, §5.2.2.4).
func (e *Entry) mayServeStale() bool {
	cc := e.cc
	return !cc.MustRevalidate && !cc.ProxyRevalidate && cc.SMaxAge < 0 && !cc.NoCache
}

// staleWindow returns the window of an RFC 5861 directive: the response's
// value, else the request's (stale-if-error only), else the configured
// default.
func staleWindow(resp, req int64, def time.Duration) time.Duration {
	if resp >= 0 {
		return time.Duration(resp) * time.Second
	}
	if req >= 0 {
		return time.Duration(req) * time.Second
	}
	return def
}
