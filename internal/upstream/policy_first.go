package upstream

import "github.com/gatehouse-proxy/gatehouse/internal/config"

func init() {
	registerPolicy(config.PolicyFirst, func(PolicyOptions) (Policy, error) { return First{}, nil })
}

// First sends every request to the first available target in configured
// order: the others are hot standbys that get traffic only while the ones
// before them are down, ejected or at their limits (the pool filters them
// out before Pick). Stateless; Pick does not allocate.
type First struct{}

// Pick returns targets[0].
func (First) Pick(targets []*Target, _ *PickContext) *Target { return targets[0] }
