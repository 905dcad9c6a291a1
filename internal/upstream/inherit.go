package upstream

import "math"

// Inherit carries over, from old, what is known about every target of p
// that old had too (same network and address): active health, passive
// ejection and its multiplier, the latency estimate and the counters. The
// runtime calls it when a reload changed an upstream's settings (a target
// added, a policy or a timeout changed), so that the targets that stay
// keep their state (DESIGN.md: state is keyed by address), while the
// targets the reload added go through slow start; an unchanged
// upstream keeps its whole Pool instead. Call it before p serves or starts
// its checks.
func (p *Pool) Inherit(old *Pool) {
	if old == nil {
		return
	}
	byKey := make(map[string]*Target, len(old.Targets()))
	for _, t := range old.Targets() {
		byKey[t.network+" "+t.address] = t
	}
	now := p.opts.Now().UnixNano()
	for _, t := range p.Targets() {
		o := byKey[t.network+" "+t.address]
		if o == nil {
			// Added by this reload: it joins through slow start, as a
			// target added by DNS re-resolution does.
			t.health.since.Store(now)
			continue
		}
		t.added = o.added
		h, oh := &t.health, &o.health
		if p.health.check != nil && old.health.check != nil {
			// Only an active check can bring a down target back up; a
			// pool without one starts its targets up.
			h.down.Store(oh.down.Load())
			h.passes.Store(oh.passes.Load())
			h.fails.Store(oh.fails.Load())
		}
		h.consec.Store(oh.consec.Load())
		h.ejectedUntil.Store(oh.ejectedUntil.Load())
		h.ejections.Store(oh.ejections.Load())
		h.since.Store(oh.since.Load())
		h.requests.Store(oh.requests.Load())
		h.failures.Store(oh.failures.Load())
		if v, stamp := o.lat.load(); stamp != 0 {
			t.lat.mu.Lock()
			t.lat.seq.Add(1)
			t.lat.value.Store(math.Float64bits(v))
			t.lat.stamp.Store(stamp)
			t.lat.seq.Add(1)
			t.lat.mu.Unlock()
		}
	}
}
