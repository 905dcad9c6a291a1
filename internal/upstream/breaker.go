package upstream

// The circuit breaker bounds the load sent to an upstream (Envoy's
// max_requests / max_pending_requests): past a bound the request fails at
// once with an error wrapping protocol.ErrOverloaded, which the proxy maps
// to 503, instead of queueing behind a backend that cannot keep up.
//
//   - max_requests bounds in-flight requests to the whole upstream
//     (Acquire/Release).
//   - max_requests_per_target makes pick skip a target with that many
//     in-flight exchanges (Target.Begin/Done).
//   - max_pending bounds the requests that would wait for a connection
//     because their target is at max_conns_per_target; once reached, such
//     targets are skipped too. When every target is skipped, Pick fails
//     with ErrOverloaded.

// Acquire admits one request to the upstream, or refuses it with an error
// wrapping protocol.ErrOverloaded when circuit_breaker.max_requests
// requests are already in flight. After a nil error the caller must call
// Release exactly once when the request (all its tries) is over. Acquire
// also counts the request for the retry budget (AllowRetry). Safe for
// concurrent use; lock-free; does not allocate.
func (p *Pool) Acquire() error { return p.AcquireAt(0) }

// AcquireAt is Acquire with the caller's reading of the pool's clock
// (Unix nanoseconds; 0 reads it, see PickContext.Now).
func (p *Pool) AcquireAt(now int64) error {
	h := p.health
	n := h.inFlight.Add(1)
	if h.maxRequests > 0 && n > h.maxRequests {
		h.inFlight.Add(-1)
		return h.errFull
	}
	h.budget.countRequest(h.nowOr(now))
	return nil
}

// Release ends a request admitted by Acquire.
func (p *Pool) Release() { p.health.inFlight.Add(-1) }

// InFlight returns the number of requests admitted by Acquire and not yet
// released.
func (p *Pool) InFlight() int64 { return p.health.inFlight.Load() }

// saturated reports whether t is at its circuit-breaker bound: at
// max_requests_per_target, or at max_conns_per_target while the upstream's
// pending requests reached max_pending (pendingFull).
func (h *Health) saturated(t *Target, pendingFull bool) bool {
	n := t.inFlight.Load()
	return (h.maxPerTarget > 0 && n >= h.maxPerTarget) || (pendingFull && n >= h.maxConns)
}

// pendingFull reports whether the requests beyond max_conns_per_target on
// their target (which wait for a connection) reached max_pending.
func (h *Health) pendingFull(list []*Target) bool {
	if h.maxPending <= 0 || h.maxConns <= 0 {
		return false
	}
	var pending int64
	for _, t := range list {
		if n := t.inFlight.Load() - h.maxConns; n > 0 {
			pending += n
		}
	}
	return pending >= h.maxPending
}

// claimTries bounds how often PickClaim picks again when the target it
// picked filled up between the pick and the claim (a burst of concurrent
// requests on the last free slots).
const claimTries = 4

// PickClaim picks a target like Pick and counts the exchange in its
// in-flight number (Target.Begin) in one step that respects
// circuit_breaker.max_requests_per_target exactly: the count is taken
// with a compare-and-swap under the bound, and a target that filled up
// since the pick is passed over for another. The caller ends the exchange
// with Target.Done. Errors are Pick's, or ErrOverloaded when every pick
// lost its race.
func (p *Pool) PickClaim(pc *PickContext) (*Target, error) {
	// The targets passed over here are excluded only while this call
	// picks: the caller's set is what it was on return.
	tried := pc.Tried.n
	defer func() { pc.Tried.n = tried }()
	for range claimTries {
		t, err := p.Pick(pc)
		if err != nil {
			return nil, err
		}
		if p.health.claim(t) {
			return t, nil
		}
		pc.Tried.Add(t)
	}
	return nil, p.health.errSaturated
}

// claim counts one exchange on t unless that passes max_requests_per_target.
func (h *Health) claim(t *Target) bool {
	if h.maxPerTarget <= 0 {
		t.inFlight.Add(1)
		return true
	}
	for {
		n := t.inFlight.Load()
		if n >= h.maxPerTarget {
			return false
		}
		if t.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}
