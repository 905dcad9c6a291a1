package upstream

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// ringBuckets is the number of buckets of a counterRing: the window is
// ringBuckets × the bucket width.
const ringBuckets = 10

// emptyEpoch marks a bucket that counts nothing (always outside the window).
const emptyEpoch = math.MinInt64

// counterRing is a sliding window of two counters (a, b) made of
// ringBuckets buckets, each covering one epoch (time / bucket width) of
// the injected clock. Lock-free: a bucket reused for a new epoch is reset
// by whoever wins the CAS on its epoch; a count added concurrently with
// that reset may be lost, which is fine for rates (documented, cheap).
type counterRing struct {
	b [ringBuckets]ringBucket
}

type ringBucket struct {
	epoch atomic.Int64
	a, b  atomic.Int64
}

// add counts da and db in the bucket of epoch.
func (r *counterRing) add(epoch, da, db int64) {
	bk := &r.b[uint64(epoch)%ringBuckets]
	if e := bk.epoch.Load(); e < epoch && bk.epoch.CompareAndSwap(e, epoch) {
		bk.a.Store(0)
		bk.b.Store(0)
	}
	if da != 0 {
		bk.a.Add(da)
	}
	if db != 0 {
		bk.b.Add(db)
	}
}

// sum returns the counts of the window ending with epoch.
func (r *counterRing) sum(epoch int64) (a, b int64) {
	for i := range r.b {
		bk := &r.b[i]
		if e := bk.epoch.Load(); e > epoch-ringBuckets && e <= epoch {
			a += bk.a.Load()
			b += bk.b.Load()
		}
	}
	return a, b
}

// reset empties the window.
func (r *counterRing) reset() {
	for i := range r.b {
		r.b[i].epoch.Store(emptyEpoch)
		r.b[i].a.Store(0)
		r.b[i].b.Store(0)
	}
}

// budgetBucket is the width of one retry-budget bucket.
const budgetBucket = config.RetryBudgetWindow / ringBuckets

// retryBudget caps retries at percent % of the requests counted over the
// last config.RetryBudgetWindow, plus minPerWindow always allowed (Envoy's
// retry budget): under an outage where every try fails, retries add at
// most percent % to the load instead of multiplying it.
type retryBudget struct {
	percent      int64
	minPerWindow int64
	// ring counts requests (a, by Acquire) and retries (b, by AllowRetry).
	ring counterRing
	// mu makes AllowRetry's check-and-count exact; retries are rare next
	// to requests, which never take it.
	mu sync.Mutex
}

// init applies r (nil fields: the defaults).
func (b *retryBudget) init(r config.Retries) {
	b.percent, b.minPerWindow = config.DefaultRetryBudgetPercent, config.DefaultMinRetriesPerSecond
	if r.BudgetPercent != nil {
		b.percent = int64(*r.BudgetPercent)
	}
	if r.MinRetriesPerSecond != nil {
		b.minPerWindow = int64(*r.MinRetriesPerSecond)
	}
	b.minPerWindow *= int64(config.RetryBudgetWindow / time.Second)
	b.ring.reset()
}

// countRequest counts one request at now (UnixNano). Lock-free.
func (b *retryBudget) countRequest(now int64) {
	b.ring.add(now/int64(budgetBucket), 1, 0)
}

// allow reports whether one more retry fits the budget at now, and counts
// it when it does.
func (b *retryBudget) allow(now int64) bool {
	epoch := now / int64(budgetBucket)
	b.mu.Lock()
	defer b.mu.Unlock()
	requests, retries := b.ring.sum(epoch)
	if retries >= requests*b.percent/100+b.minPerWindow {
		return false
	}
	b.ring.add(epoch, 0, 1)
	return true
}

// AllowRetry reports whether the upstream's retry budget allows one more
// retry now, and if so counts it: the caller must then send the retry (or
// at least must not ask again for the same one). Retries are capped at
// retries.budget_percent % of the requests counted by Acquire over the
// last config.RetryBudgetWindow, plus retries.min_retries_per_second ×
// the window always allowed. Safe for concurrent use; does not allocate.
func (p *Pool) AllowRetry() bool {
	return p.health.budget.allow(p.health.now())
}
