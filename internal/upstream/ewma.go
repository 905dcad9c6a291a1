package upstream

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ewmaDecay is the time constant of the latency average: a sample's weight
// falls to 1/e after this long. 10 s is Finagle's default for PeakEwma
// (com.twitter.finagle.loadbalancer.PeakEwma, decayTime) and Linkerd's.
const ewmaDecay = 10 * time.Second

// ewma is a target's peak-EWMA latency estimate, after Finagle's PeakEwma
// and tower's PeakEwma (used by Linkerd): an exponentially weighted moving
// average whose weights depend on the time between samples (not on their
// number), where a sample above the current estimate replaces it at once
// ("peak") so a target that turns slow is avoided immediately, and where
// the estimate decays towards zero while no sample arrives, so a target
// that was slow is probed again after a while.
//
// Writers are serialised by mu and publish (value, stamp) under a sequence
// counter (a seqlock); readers never lock and never allocate.
type ewma struct {
	mu sync.Mutex
	// seq is odd while a writer updates value and stamp.
	seq atomic.Uint64
	// value is the estimate at stamp, in nanoseconds (float64 bits).
	value atomic.Uint64
	// stamp is the UnixNano of the last sample; 0 = no sample yet.
	stamp atomic.Int64
}

// load returns a consistent (value, stamp) pair.
func (e *ewma) load() (float64, int64) {
	for {
		s := e.seq.Load()
		if s&1 == 0 {
			v, st := e.value.Load(), e.stamp.Load()
			if e.seq.Load() == s {
				return math.Float64frombits(v), st
			}
		}
		// A writer holds the pair for a few instructions.
		runtime.Gosched()
	}
}

// decayed returns v, last updated at stamp, seen at now.
func decayed(v float64, stamp, now int64) float64 {
	elapsed := now - stamp
	if elapsed <= 0 {
		return v
	}
	return v * math.Exp(-float64(elapsed)/float64(ewmaDecay))
}

// observe folds one sample d (ns) taken at now into the estimate.
func (e *ewma) observe(d float64, now int64) {
	if d < 0 {
		d = 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	v, stamp := e.load()
	next := d
	if stamp != 0 {
		elapsed := max(now-stamp, 0)
		w := math.Exp(-float64(elapsed) / float64(ewmaDecay))
		// cur is the estimate as Latency reports it now. A sample above
		// it replaces it (the peak); others enter the moving average.
		if cur := v * w; d <= cur {
			next = cur + d*(1-w)
		}
	}
	if now < stamp { // a late, out-of-order report keeps the newer stamp
		now = stamp
	}
	if now == 0 {
		now = 1 // 0 means "no sample"
	}
	e.seq.Add(1)
	e.value.Store(math.Float64bits(next))
	e.stamp.Store(now)
	e.seq.Add(1)
}

// ObserveLatency records the time to the response head of one exchange
// with t, at now (UnixNano). The pool calls it from Report. Safe for
// concurrent use; it does not allocate.
func (t *Target) ObserveLatency(d time.Duration, now int64) {
	t.lat.observe(float64(d), now)
}

// Latency returns t's current latency estimate at now (UnixNano); 0 when
// nothing was observed. The estimate decays towards 0 while no sample
// arrives (time constant 10 s). Safe for concurrent use; no allocation.
func (t *Target) Latency(now int64) time.Duration {
	ns, _ := t.lat.at(now)
	return time.Duration(ns)
}

// at returns the estimate in nanoseconds at now, and false when there was
// no sample yet.
func (e *ewma) at(now int64) (float64, bool) {
	v, stamp := e.load()
	if stamp == 0 {
		return 0, false
	}
	return decayed(v, stamp, now), true
}
