package upstream

import "time"

// TargetState is a snapshot of one target's health and load, for the admin
// API, metrics and `gatehouse explain`.
type TargetState struct {
	// Target as configured (or as resolved from a DNS name).
	Target string
	// Healthy is the active checks' verdict (true without active checks).
	Healthy bool
	// Ejected by passive health until EjectedUntil (zero when not).
	Ejected      bool
	EjectedUntil time.Time
	// InFlight exchanges (Target.Begin/Done).
	InFlight int64
	// Latency is the peak-EWMA latency estimate; 0 before any sample.
	Latency time.Duration
	// Weight is the configured weight.
	Weight int
	// SlowStart is the slow-start factor: 1 = full share, down to 0.1
	// right after the target returned.
	SlowStart float64
	// Failures and Requests are the totals reported through Report.
	Failures int64
	Requests int64
}

// States returns a snapshot of every current target's state, in target
// order. A new slice on each call; safe for concurrent use.
func (p *Pool) States() []TargetState {
	h := p.health
	now := h.now()
	list := p.set.Load().list
	out := make([]TargetState, len(list))
	for i, t := range list {
		s := &t.health
		st := TargetState{
			Target:    t.raw,
			Healthy:   !s.down.Load(),
			InFlight:  t.InFlight(),
			Latency:   t.Latency(now),
			Weight:    t.weight,
			SlowStart: h.slowFactor(t, now),
			Failures:  s.failures.Load(),
			Requests:  s.requests.Load(),
		}
		if until := s.ejectedUntil.Load(); until > now {
			st.Ejected = true
			st.EjectedUntil = time.Unix(0, until)
		}
		out[i] = st
	}
	return out
}

// Available reports whether t is in rotation at now: up by the active
// checks (or not checked) and not ejected by passive health. The circuit
// breaker's per-target bound is not part of it.
func (t *Target) Available(now time.Time) bool {
	return t.health.available(now.UnixNano())
}
