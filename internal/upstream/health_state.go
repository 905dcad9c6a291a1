package upstream

import "sync/atomic"

// healthState is a target's active and passive health state. Every field
// is atomic: the request path (pick, Report) reads and writes it without
// locks, the target's active checker writes the active part, and States
// reads it all.
type healthState struct {
	// down is set by active checks after fall consecutive failures and
	// cleared after rise consecutive passes. Targets start up.
	down atomic.Bool
	// passes and fails count consecutive active check results.
	passes, fails atomic.Int32

	// consec counts consecutive passive failures (Report).
	consec atomic.Int64
	// ejectedUntil is when the current ejection ends (UnixNano); a value
	// not after now means "not ejected".
	ejectedUntil atomic.Int64
	// ejections is the number of consecutive ejections: the next one
	// lasts base_ejection × (ejections+1).
	ejections atomic.Int64
	// since is when the target last returned to service (UnixNano): an
	// active check marked it up, or its ejection ended. Slow start ramps
	// from it. 0: it never left.
	since atomic.Int64

	// requests and failures are totals reported through Report.
	requests, failures atomic.Int64
	// window counts requests (a) and failures (b) for the error rate.
	window counterRing
}

// available reports whether the target is in rotation at now (UnixNano):
// up by the active checks and not ejected.
func (s *healthState) available(now int64) bool {
	return !s.down.Load() && s.ejectedUntil.Load() <= now
}
