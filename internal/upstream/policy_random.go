package upstream

import (
	"math/bits"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func init() {
	registerPolicy(config.PolicyRandom, func(opts PolicyOptions) (Policy, error) {
		return &Random{rand: opts.Rand}, nil
	})
}

// Random picks a target uniformly at random with the injected source. Safe
// for concurrent use as far as the source is; Pick does not allocate.
// Weights are ignored (use weighted for them).
type Random struct {
	rand func() uint64
}

// Pick returns a uniformly random target.
func (r *Random) Pick(targets []*Target, _ *PickContext) *Target {
	return targets[randN(r.rand, len(targets))]
}

// randN returns a random int in [0, n), n ≥ 1, from one draw of rand. It
// takes the high word of a 64×64-bit product (Lemire's method without the
// rejection step): the bias is below n/2^64, far under anything a load
// balancer can notice, and no loop means a bounded cost.
func randN(rand func() uint64, n int) int {
	hi, _ := bits.Mul64(rand(), uint64(n))
	return int(hi)
}
