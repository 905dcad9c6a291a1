package upstream

import "sync/atomic"

// Candidate classes for one pick, best first. pick hands the policy the
// best non-empty class.
const (
	classUp        = iota // available and not tried yet for this request
	classDown             // not tried, but down (active) or ejected (passive)
	classTriedUp          // tried already, available
	classTriedDown        // tried already, down or ejected
	classFull             // at its circuit-breaker bound: never picked
)

// pick chooses among list (never empty) for one request. The policy sees
// the available targets not tried yet; when there are none it sees the
// untried ones that are down or ejected ("if all are down, try anyway"
// rather than fail without trying: health may be stale, a retry may
// succeed), then tried ones. Targets at their circuit-breaker bound are
// never picked; when all are, pick fails with an error wrapping
// protocol.ErrOverloaded. Slow start then applies (slowstart.go).
//
// No allocation: when every target is a candidate (the common case) the
// policy gets list itself; otherwise a reused buffer from the pool's
// free list.
func (p *Pool) pick(list []*Target, pc *PickContext) (*Target, error) {
	h := p.health
	var tried *Tried
	var at int64
	if pc != nil {
		tried, at = &pc.Tried, pc.Now
	}
	now := h.nowOr(at)
	full := h.pendingFull(list)
	i := 0
	for i < len(list) && h.classify(list[i], now, tried, full) == classUp {
		i++
	}
	if i == len(list) {
		p.setReason(pc, reasonAll)
		return p.choose(list, pc, now), nil
	}
	// One pass keeping the best class seen so far, so the candidates are
	// consistent even while the targets' state changes under us.
	b := h.bufs.get(len(list))
	defer h.bufs.put(b)
	s := append(b.s[:0], list[:i]...)
	best := classUp
	if i == 0 {
		best = classFull
	}
	for _, t := range list[i:] {
		switch c := h.classify(t, now, tried, full); {
		case c < best:
			best = c
			s = append(s[:0], t)
		case c == best && c != classFull:
			s = append(s, t)
		}
	}
	b.s = s
	if len(s) == 0 {
		return nil, h.errSaturated
	}
	switch best {
	case classUp:
		p.setReason(pc, reasonSkipped)
	case classDown:
		p.setReason(pc, reasonAnyway)
	default:
		p.setReason(pc, reasonAgain)
	}
	return p.choose(s, pc, now), nil
}

// Why a pick chose among which targets (PickContext.Reason, the access
// log's "pick"). The strings are built once per pool (pickReasons).
const (
	reasonAll     = iota // every target was a candidate
	reasonSkipped        // some were down, ejected, saturated or tried
	reasonAnyway         // none available: an unavailable one was tried anyway
	reasonAgain          // every target was tried: one is tried again
	reasonCount
)

// pickReasons returns the reason strings of a pool using policy.
func pickReasons(policy string) [reasonCount]string {
	return [reasonCount]string{
		reasonAll:     policy,
		reasonSkipped: policy + ", unavailable or tried targets skipped",
		reasonAnyway:  policy + ", none available: tried anyway",
		reasonAgain:   policy + ", all tried: trying again",
	}
}

func (p *Pool) setReason(pc *PickContext, r int) {
	if pc != nil {
		pc.Reason = p.reasons[r]
	}
}

// choose runs the policy over cands, then slow start.
func (p *Pool) choose(cands []*Target, pc *PickContext, now int64) *Target {
	t := p.policy.Pick(cands, pc)
	if p.health.slowStart > 0 {
		t = p.ramp(cands, t, pc, now)
	}
	return t
}

// classify returns t's candidate class for one pick.
func (h *Health) classify(t *Target, now int64, tried *Tried, pendingFull bool) int {
	if h.saturated(t, pendingFull) {
		return classFull
	}
	c := classUp
	if !t.health.available(now) {
		c = classDown
	}
	if tried != nil && tried.Has(t) {
		c += classTriedUp
	}
	return c
}

// pickBuf is a scratch candidate list.
type pickBuf struct{ s []*Target }

// bufList is a small lock-free free list of pickBufs. Not a sync.Pool:
// that one drops entries at random under the race detector and after each
// GC, so "pick does not allocate" could not be tested or relied on. When
// more picks need a buffer at once than there are slots, the extra ones
// allocate (and are dropped).
type bufList struct {
	slots [16]atomic.Pointer[pickBuf]
}

// get returns a buffer with room for n targets.
func (l *bufList) get(n int) *pickBuf {
	for i := range l.slots {
		if l.slots[i].Load() == nil {
			continue
		}
		if b := l.slots[i].Swap(nil); b != nil {
			if cap(b.s) < n {
				b.s = make([]*Target, 0, n)
			}
			return b
		}
	}
	return &pickBuf{s: make([]*Target, 0, n)}
}

// put returns b to the list. It clears b first, so a removed target is not
// kept alive by a buffer.
func (l *bufList) put(b *pickBuf) {
	clear(b.s)
	b.s = b.s[:0]
	for i := range l.slots {
		if l.slots[i].CompareAndSwap(nil, b) {
			return
		}
	}
}
