package upstream

import (
	"sync"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func init() {
	registerPolicy(config.PolicyWeighted, func(opts PolicyOptions) (Policy, error) {
		n := len(opts.Targets)
		for _, t := range opts.Targets {
			n = max(n, t.Index()+1)
		}
		return &Weighted{rand: opts.Rand, current: make([]int64, n)}, nil
	})
}

// Weighted is smooth weighted round robin, nginx's algorithm
// (ngx_http_upstream_get_peer in ngx_http_upstream_round_robin.c): every pick adds each target's weight
// to its current weight, takes the target with the highest current weight
// and subtracts the total from it. Over any window of sum(weights) picks
// each target gets exactly its weight, and picks are interleaved: weights
// 5:1:1 give a a b a c a a, not a a a a a b c.
//
// Current weights live in a slice indexed by Target.Index, sized from the
// pool's targets at construction and guarded by a mutex (a handful of
// additions per pick). Targets filtered out by the pool keep their current
// weight until they return, as in nginx. A target whose index is outside
// the slice (the pool grew after construction) makes that pick a weighted
// random one. Safe for concurrent use; Pick does not allocate.
type Weighted struct {
	rand    func() uint64
	mu      sync.Mutex
	current []int64
}

// Pick returns the next target in smooth weighted order.
func (p *Weighted) Pick(targets []*Target, _ *PickContext) *Target {
	if len(targets) == 1 {
		return targets[0]
	}
	for _, t := range targets {
		if i := t.Index(); i < 0 || i >= len(p.current) {
			return weightedRandom(p.rand, targets)
		}
	}
	p.mu.Lock()
	var (
		total int64
		best  *Target
		bestC int64
	)
	for _, t := range targets {
		i := t.Index()
		w := int64(t.Weight())
		p.current[i] += w
		total += w
		if c := p.current[i]; best == nil || c > bestC {
			best, bestC = t, c
		}
	}
	p.current[best.Index()] -= total
	p.mu.Unlock()
	return best
}

// weightedRandom picks a target with probability proportional to its
// weight, without allocation.
func weightedRandom(rand func() uint64, targets []*Target) *Target {
	total := 0
	for _, t := range targets {
		total += t.Weight()
	}
	n := randN(rand, total)
	for _, t := range targets {
		if n -= t.Weight(); n < 0 {
			return t
		}
	}
	return targets[len(targets)-1]
}
