package upstream

import (
	"sync/atomic"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func init() {
	registerPolicy(config.PolicyRoundRobin, func(PolicyOptions) (Policy, error) { return &RoundRobin{}, nil })
}

// RoundRobin hands requests to targets in turn. Safe for concurrent use;
// Pick does not allocate. Under concurrency the order is not strict, but
// over N×len(targets) picks each target gets exactly N.
type RoundRobin struct {
	next atomic.Uint64
}

// Pick returns the next target in turn.
func (r *RoundRobin) Pick(targets []*Target, _ *PickContext) *Target {
	n := r.next.Add(1) - 1
	return targets[n%uint64(len(targets))]
}
