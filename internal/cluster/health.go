package cluster

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnavailable is returned (alone, or wrapping the Redis error) by the
// Redis implementations when Redis cannot be used for this call: it failed
// or timed out, or it failed recently and the next probe is not due. The
// caller falls back to its local state; it never reaches a client.
var ErrUnavailable = errors.New("cluster: redis unavailable")

// health tracks whether Redis answers, so that an outage costs one timeout
// per probe rather than one per request (DESIGN.md: one instance needs no
// Redis; a Redis outage degrades to that). Transitions are logged once each
// way: Warn when Redis goes away, Info when it answers again.
//
// While down, one caller at a time is let through as a probe once the
// back-off has passed; the back-off doubles per failed probe up to max.
type health struct {
	logger *slog.Logger
	addr   string
	now    func() time.Time
	min    time.Duration
	max    time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds
	probing   atomic.Bool

	mu      sync.Mutex // serialises transitions and the back-off
	backoff time.Duration
}

func newHealth(logger *slog.Logger, addr string, now func() time.Time, min, max time.Duration) *health {
	return &health{logger: logger, addr: addr, now: now, min: min, max: max}
}

// try reports whether the caller may use Redis now. When it returns true
// while Redis is down, the caller is the probe and must report the outcome
// with ok or fail.
func (h *health) try() bool {
	if !h.down.Load() {
		return true
	}
	if h.now().UnixNano() < h.nextProbe.Load() {
		return false
	}
	return h.probing.CompareAndSwap(false, true)
}

// ok records a successful call.
func (h *health) ok() {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down.Load() {
		h.backoff = 0
		h.down.Store(false)
		h.logger.Info("cluster: redis available again; shared state resumed", "address", h.addr)
	}
	h.probing.Store(false)
}

// fail records a failed call and schedules the next probe.
func (h *health) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() {
		h.backoff = h.min
		h.down.Store(true)
		h.logger.Warn("cluster: redis unavailable; using local state until it answers again",
			"address", h.addr, "error", err, "next_probe_in", h.backoff)
	} else if h.probing.Load() {
		h.backoff = min(2*h.backoff, h.max)
	}
	h.nextProbe.Store(h.now().Add(h.backoff).UnixNano())
	h.probing.Store(false)
}
