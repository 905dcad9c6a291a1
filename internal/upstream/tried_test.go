package upstream

import (
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestTriedSet(t *testing.T) {
	t.Parallel()
	ts := make([]*Target, maxTried+2)
	for i := range ts {
		ts[i] = &Target{}
	}
	var s Tried
	if s.Has(ts[0]) || s.Len() != 0 {
		t.Fatal("zero Tried is not empty")
	}
	s.Add(ts[0])
	s.Add(ts[0])
	s.Add(nil)
	if !s.Has(ts[0]) || s.Has(ts[1]) || s.Len() != 1 {
		t.Fatalf("after adding one target twice: len %d", s.Len())
	}
	for _, tg := range ts {
		s.Add(tg)
	}
	if s.Len() != maxTried || !s.Has(ts[maxTried-1]) || s.Has(ts[maxTried]) {
		t.Fatalf("past the bound: len %d", s.Len())
	}
}

// A retry avoids the targets it tried in a pool of any size: positions
// past 64 (a large DNS-resolved pool) used to be ignored, so a retry
// could go straight back to the target that had just failed.
func TestPickAvoidsTriedInLargePool(t *testing.T) {
	t.Parallel()
	p := hcPool(t, 70, config.Upstream{}, PoolOptions{})
	ts := p.Targets()
	var pc PickContext
	for _, i := range []int{3, 64, 65, 69} {
		pc.Tried.Add(ts[i])
	}
	for range 3 * len(ts) {
		got, err := p.Pick(&pc)
		if err != nil {
			t.Fatal(err)
		}
		if pc.Tried.Has(got) {
			t.Fatalf("picked %s (index %d), which was tried, with untried targets available", got, got.Index())
		}
	}
}

// PickClaim excludes the targets it passes over only while it picks: the
// caller's set is unchanged on return.
func TestPickClaimKeepsCallersTried(t *testing.T) {
	t.Parallel()
	p := hcPool(t, 3, config.Upstream{}, PoolOptions{})
	var pc PickContext
	pc.Tried.Add(p.Targets()[0])
	got, err := p.PickClaim(&pc)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Done()
	if pc.Tried.Len() != 1 || !pc.Tried.Has(p.Targets()[0]) {
		t.Fatalf("caller's set changed: len %d", pc.Tried.Len())
	}
}
