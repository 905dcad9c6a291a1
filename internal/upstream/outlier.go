package upstream

import (
	"fmt"
	"time"
)

// Outcome is the result of one exchange with a target, as the proxy saw
// it.
type Outcome struct {
	// Failed: the exchange failed in a way that speaks about the target's
	// health: connect error, reset, timeout, or a 502/503/504 answer
	// (IsFailure decides).
	Failed bool
	// Latency is the time to the response head; 0 when Failed.
	Latency time.Duration
	// At, when not zero, is when the try ended, read from the pool's
	// clock by the caller (see PickContext.Now).
	At int64
}

// Report records the outcome of one exchange with t (a target returned by
// this pool's Pick) for passive health (outlier ejection) and latency
// (p2c_ewma). Call it once per try, when the response head arrived or the
// try failed.
//
// A target is ejected after passive_health.consecutive_failures failures
// in a row, or when its failure percentage over passive_health.window
// reaches error_rate (once it served min_requests there). The n-th
// consecutive ejection lasts base_ejection × n, at most max_ejection; n
// goes back to 0 once the target served successfully for base_ejection
// after its return. At most max_ejected_percent of the targets are ejected
// at once, and never the last available one.
//
// Safe for concurrent use; lock-free and allocation-free except when it
// ejects.
func (p *Pool) Report(t *Target, o Outcome) {
	h := p.health
	s := &t.health
	now := h.nowOr(o.At)
	s.requests.Add(1)
	if !o.Failed {
		t.ObserveLatency(o.Latency, now)
		if s.consec.Load() != 0 {
			s.consec.Store(0)
		}
		if h.errorRate > 0 && !h.passiveOff {
			s.window.add(now/h.windowBucket, 1, 0)
		}
		if n := s.ejections.Load(); n > 0 && now-s.ejectedUntil.Load() >= h.baseEjection {
			s.ejections.CompareAndSwap(n, 0)
		}
		return
	}
	s.failures.Add(1)
	if h.passiveOff {
		return
	}
	c := s.consec.Add(1)
	if c >= h.consecutive {
		p.eject(t, now, c, 0)
		return
	}
	if h.errorRate > 0 {
		epoch := now / h.windowBucket
		s.window.add(epoch, 1, 1)
		if req, fail := s.window.sum(epoch); req >= h.minRequests && fail*100 >= h.errorRate*req {
			p.eject(t, now, 0, fail*100/req)
		}
	}
}

// eject takes t out of rotation if the caps allow it. consec or rate
// (percent) say why, for the log.
func (p *Pool) eject(t *Target, now, consec, rate int64) {
	h := p.health
	s := &t.health
	h.ejectMu.Lock()
	defer h.ejectMu.Unlock()
	if s.ejectedUntil.Load() > now {
		return // already out (a late report of an earlier exchange)
	}
	list := p.set.Load().list
	ejected, others, member := 0, 0, false
	for _, o := range list {
		switch {
		case o == t:
			member = true
		case o.health.ejectedUntil.Load() > now:
			ejected++
		case !o.health.down.Load():
			others++
		}
	}
	// The caps: the share of targets out at once, and at least one target
	// left in rotation, so an upstream-wide outage never empties the pool
	// by ejection alone.
	if !member || others == 0 || (ejected+1)*100 > len(list)*h.maxEjectedPct {
		return
	}
	n := s.ejections.Add(1)
	d := h.maxEjection
	if n <= h.maxEjection/h.baseEjection {
		d = h.baseEjection * n
	}
	until := now + d
	s.ejectedUntil.Store(until)
	s.since.Store(until) // slow start ramps from the return
	s.consec.Store(0)
	s.window.reset()
	reason := fmt.Sprintf("%d consecutive failures", consec)
	if consec == 0 {
		reason = fmt.Sprintf("error rate %d%% over %s", rate, time.Duration(h.windowBucket*ringBuckets))
	}
	h.log.Warn("upstream target ejected", "upstream", h.name, "target", t.raw, "reason", reason,
		"for", time.Duration(d), "ejections", n)
}
