package upstream

import (
	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func init() {
	registerPolicy(config.PolicyP2CEWMA, func(opts PolicyOptions) (Policy, error) {
		return &P2CEWMA{rand: opts.Rand, now: opts.Now}, nil
	})
}

// unsampledBusyCost is the cost of a target that has requests in flight
// but no latency sample yet: high enough that it gets no second request
// while any measured target is available, so a new or slow-to-answer
// target is probed one request at a time. Finagle's PeakEwma does the same
// with its Penalty. In nanoseconds (about 11.5 days).
const unsampledBusyCost = 1e15

// P2CEWMA is "power of two random choices" over peak-EWMA latency, the
// algorithm of Finagle's and Linkerd's load balancers: pick two distinct
// targets at random and take the one with the lower cost
//
//	cost = latency estimate × (in-flight requests + 1) / weight
//
// where the latency estimate is the target's peak EWMA (ewma.go). Two
// random choices avoid the herd that "always the best" causes when many
// proxies share stale information, and still almost always avoid the worst
// targets. A target without any sample yet costs 0 while it is idle (so
// new targets get tried at once) and a large penalty while its first
// requests are in flight. Safe for concurrent use; Pick does not allocate.
type P2CEWMA struct {
	rand func() uint64
	now  func() int64
}

// Pick returns the cheaper of two random targets.
func (p *P2CEWMA) Pick(targets []*Target, pc *PickContext) *Target {
	n := len(targets)
	if n == 1 {
		return targets[0]
	}
	i := randN(p.rand, n)
	j := randN(p.rand, n-1)
	if j >= i {
		j++
	}
	a, b := targets[i], targets[j]
	var now int64
	if pc != nil {
		now = pc.Now
	}
	if now == 0 {
		now = p.now()
	}
	// Ties go to a, itself uniformly random, so ties stay uniform.
	if p2cCost(b, now) < p2cCost(a, now) {
		return b
	}
	return a
}

// p2cCost is the load of t at now; lower is better.
func p2cCost(t *Target, now int64) float64 {
	inFlight := float64(max(t.InFlight(), 0))
	lat, ok := t.lat.at(now)
	if !ok {
		if inFlight == 0 {
			return 0
		}
		return unsampledBusyCost * inFlight
	}
	return lat * (inFlight + 1) / float64(t.Weight())
}
