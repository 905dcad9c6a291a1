package upstream

import "github.com/gatehouse-proxy/gatehouse/internal/config"

func init() {
	registerPolicy(config.PolicyLeastConn, func(opts PolicyOptions) (Policy, error) {
		return &LeastConn{rand: opts.Rand}, nil
	})
}

// LeastConn picks the target with the fewest in-flight requests relative
// to its weight (InFlight/Weight, as nginx's least_conn does; with equal
// weights simply the fewest), choosing uniformly at random among ties so
// that idle targets share the load instead of the first one taking it all.
// Safe for concurrent use; Pick does not allocate.
type LeastConn struct {
	rand func() uint64
}

// Pick returns a least-loaded target.
func (l *LeastConn) Pick(targets []*Target, _ *PickContext) *Target {
	best := targets[0]
	bestConn, bestW := best.InFlight(), int64(best.Weight())
	ties := 1
	for _, t := range targets[1:] {
		c, w := t.InFlight(), int64(t.Weight())
		// c/w < bestConn/bestW without division (weights are ≥ 1 and
		// ≤ 1000, in-flight counts far below 2^53: no overflow).
		switch lhs, rhs := c*bestW, bestConn*w; {
		case lhs < rhs:
			best, bestConn, bestW, ties = t, c, w, 1
		case lhs == rhs:
			// Reservoir sampling: the k-th tie replaces the choice with
			// probability 1/k, so every tie ends up equally likely.
			ties++
			if randN(l.rand, ties) == 0 {
				best, bestConn, bestW = t, c, w
			}
		}
	}
	return best
}
