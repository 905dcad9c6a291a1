package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Health is a pool's health machinery: active checks (health_active.go),
// passive outlier ejection (outlier.go), the circuit breaker (breaker.go),
// slow start (slowstart.go) and the retry budget (budget.go). Per-target
// state lives in each Target (healthState); Health holds the settings and
// the upstream-wide counters. Settings are immutable after newHealth.
type Health struct {
	name string
	log  *slog.Logger
	nowT func() time.Time
	rand func() uint64

	// Active checks; nil when off.
	check *activeCheck
	// lifecycle of the checker goroutine.
	mu        sync.Mutex
	cancel    context.CancelFunc
	done      chan struct{}
	stopped   bool
	startedAt atomic.Int64 // UnixNano of start; 0 before

	// Passive health (outlier ejection).
	passiveOff    bool
	consecutive   int64
	errorRate     int64 // percent; 0 = off
	minRequests   int64
	windowBucket  int64 // ns per error-rate bucket
	baseEjection  int64 // ns
	maxEjection   int64 // ns
	maxEjectedPct int
	ejectMu       sync.Mutex // serialises ejections so the cap holds

	// Circuit breaker.
	maxRequests  int64
	maxPerTarget int64
	maxPending   int64
	maxConns     int64
	inFlight     atomic.Int64
	errFull      error // prebuilt: refusing does not allocate
	errSaturated error

	// slowStart is the ramp length (ns); 0 = off.
	slowStart int64

	budget retryBudget
	bufs   bufList
}

// newHealth validates cfg's health, breaker, slow-start and budget
// settings and returns the pool's Health. Zero settings (a config that did
// not pass through config loading, e.g. in tests) get the documented
// defaults; negative ones are errors.
func newHealth(name string, cfg config.Upstream, opts PoolOptions) (*Health, error) {
	opts.fill()
	h := &Health{name: name, log: opts.Logger, nowT: opts.Now, rand: opts.Rand}
	var errs []error
	if cfg.HealthCheck != nil {
		c, err := newActiveCheck(*cfg.HealthCheck)
		if err != nil {
			errs = append(errs, err)
		}
		h.check = c
	}

	ps := cfg.Passive
	if ps.ConsecutiveFailures < 0 || ps.MinRequests < 0 || ps.Window < 0 || ps.BaseEjection < 0 ||
		ps.MaxEjection < 0 || ps.ErrorRate < 0 || ps.ErrorRate > 100 || ps.MaxEjectedPercent < 0 || ps.MaxEjectedPercent > 100 {
		errs = append(errs, errors.New("passive_health: counts and durations must not be negative, percentages must be 0 to 100"))
	}
	h.passiveOff = ps.Disabled
	h.consecutive = int64(orDefault(ps.ConsecutiveFailures, config.DefaultConsecutiveFailures))
	h.errorRate = int64(ps.ErrorRate)
	h.minRequests = int64(orDefault(ps.MinRequests, config.DefaultErrorRateMinRequests))
	h.windowBucket = max(int64(orDefault(ps.Window, config.DefaultErrorRateWindow))/ringBuckets, 1)
	h.baseEjection = int64(orDefault(ps.BaseEjection, config.DefaultBaseEjection))
	h.maxEjection = max(int64(orDefault(ps.MaxEjection, config.DefaultMaxEjection)), h.baseEjection)
	h.maxEjectedPct = orDefault(ps.MaxEjectedPercent, config.DefaultMaxEjectedPercent)

	cb := cfg.CircuitBreaker
	if cb.MaxRequests < 0 || cb.MaxRequestsPerTarget < 0 || cb.MaxPending < 0 {
		errs = append(errs, errors.New("circuit_breaker: limits must not be negative"))
	}
	h.maxRequests = int64(cb.MaxRequests)
	h.maxPerTarget = int64(cb.MaxRequestsPerTarget)
	h.maxPending = int64(cb.MaxPending)
	h.maxConns = int64(cfg.MaxConnsPerTarget)
	h.errFull = fmt.Errorf("upstream %q: %w: circuit_breaker.max_requests (%d) in flight", name, protocol.ErrOverloaded, cb.MaxRequests)
	h.errSaturated = fmt.Errorf("upstream %q: %w: every target is at its circuit-breaker bound", name, protocol.ErrOverloaded)

	if cfg.SlowStart < 0 {
		errs = append(errs, errors.New("slow_start must not be negative"))
	}
	h.slowStart = int64(cfg.SlowStart)

	r := cfg.Retries
	if (r.BudgetPercent != nil && *r.BudgetPercent < 0) || (r.MinRetriesPerSecond != nil && *r.MinRetriesPerSecond < 0) {
		errs = append(errs, errors.New("retries: budget_percent and min_retries_per_second must not be negative"))
	}
	h.budget.init(r)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return h, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// now returns the injected clock's time in UnixNano.
func (h *Health) now() int64 { return h.nowT().UnixNano() }

// nowOr returns at, the caller's reading of the clock, or reads the clock
// when at is zero.
func (h *Health) nowOr(at int64) int64 {
	if at != 0 {
		return at
	}
	return h.now()
}

// chance returns true with probability q (0..1), from the injected
// randomness.
func (h *Health) chance(q float64) bool {
	return float64(h.rand()>>11)/(1<<53) < q
}

// start begins active checks of p's targets (when configured) and marks
// the moment after which added targets go through slow start. Called once
// by Pool.Start.
func (h *Health) start(p *Pool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.startedAt.Store(max(h.now(), 1))
	if h.check == nil || h.stopped || h.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	go h.run(ctx, p)
}

// stop ends the active checks and waits for their goroutines. Safe to call
// without start, and more than once.
func (h *Health) stop() {
	h.mu.Lock()
	h.stopped = true
	cancel, done := h.cancel, h.done
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
