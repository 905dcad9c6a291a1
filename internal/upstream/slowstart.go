package upstream

// slowStartFloor is the share a target gets the moment it returns: a
// little traffic at once, so its caches and connection pools warm up, then
// linearly more until full share at the end of slow_start.
const slowStartFloor = 0.1

// slowFactor returns t's slow-start factor at now (UnixNano): 1 outside
// slow start, else growing linearly from slowStartFloor to 1 over
// slow_start since t returned to service (active check up, end of an
// ejection) or was added after the pool started. Targets present when the
// pool was built are not in slow start.
func (h *Health) slowFactor(t *Target, now int64) float64 {
	if h.slowStart <= 0 {
		return 1
	}
	since := t.health.since.Load()
	if st := h.startedAt.Load(); st != 0 && t.added > st && t.added > since {
		since = t.added
	}
	if since == 0 {
		return 1
	}
	el := now - since
	if el >= h.slowStart {
		return 1
	}
	if el <= 0 {
		return slowStartFloor
	}
	return slowStartFloor + (1-slowStartFloor)*float64(el)/float64(h.slowStart)
}

// ramp applies slow start to the policy's choice t among cands: with
// probability 1-f (f = t's slow-start factor) the policy picks again among
// the other candidates. So slow start works the same under every policy,
// and a target at factor f gets about f of its normal share. Bounded (one
// re-pick); allocation-free.
func (p *Pool) ramp(cands []*Target, t *Target, pc *PickContext, now int64) *Target {
	h := p.health
	if len(cands) < 2 {
		return t
	}
	f := h.slowFactor(t, now)
	if f >= 1 || !h.chance(1-f) {
		return t
	}
	b := h.bufs.get(len(cands))
	defer h.bufs.put(b)
	s := b.s[:0]
	for _, o := range cands {
		if o != t {
			s = append(s, o)
		}
	}
	b.s = s
	return p.policy.Pick(s, pc)
}
