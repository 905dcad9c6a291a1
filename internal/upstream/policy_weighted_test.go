package upstream

import (
	"strings"
	"sync"
	"testing"
)

func TestWeightedSmooth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		weights []int
		// maxRun bounds consecutive picks of target 0.
		maxRun int
		// seq, when set, is the exact first round (target indexes).
		seq string
	}{
		{name: "3:1", weights: []int{3, 1}, maxRun: 3, seq: "0010"},
		{name: "5:1:1", weights: []int{5, 1, 1}, maxRun: 4, seq: "0010200"}, // nginx: a a b a c a a
		{name: "1:1:1", weights: []int{1, 1, 1}, maxRun: 1, seq: "012"},
		{name: "1:2", weights: []int{1, 2}, maxRun: 1, seq: "101"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			targets := weightedTargets(t, tc.weights...)
			p := newTestPolicy(t, "weighted", PolicyOptions{Targets: targets})
			total := 0
			for _, w := range tc.weights {
				total += w
			}
			const picks = 10000
			counts := make([]int, len(targets))
			var seq strings.Builder
			run, longest := 0, 0
			for i := range picks {
				got := p.Pick(targets, nil)
				counts[got.Index()]++
				if i < total {
					seq.WriteByte(byte('0' + got.Index()))
				}
				if got.Index() == 0 {
					run++
					longest = max(longest, run)
				} else {
					run = 0
				}
			}
			if seq.String() != tc.seq {
				t.Errorf("first round %s, want %s", seq.String(), tc.seq)
			}
			if longest > tc.maxRun {
				t.Errorf("target 0 picked %d times in a row, want ≤ %d", longest, tc.maxRun)
			}
			for i, w := range tc.weights {
				if want := picks * w / total; counts[i] < want-1 || counts[i] > want+1 {
					t.Errorf("target %d got %d picks, want %d±1", i, counts[i], want)
				}
			}
		})
	}
}

func TestWeightedConcurrentExact(t *testing.T) {
	t.Parallel()
	targets := weightedTargets(t, 3, 1)
	p := newTestPolicy(t, "weighted", PolicyOptions{Targets: targets})
	var mu sync.Mutex
	counts := make(map[*Target]int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			local := make(map[*Target]int)
			for range 1000 {
				local[p.Pick(targets, nil)]++
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range local {
				counts[k] += v
			}
		})
	}
	wg.Wait()
	// 4000 picks are 1000 whole rounds of 3+1: exact under any interleaving.
	if counts[targets[0]] != 3000 || counts[targets[1]] != 1000 {
		t.Errorf("counts %d/%d, want 3000/1000", counts[targets[0]], counts[targets[1]])
	}
}

func TestWeightedSubsetAndGrowth(t *testing.T) {
	t.Parallel()
	targets := weightedTargets(t, 2, 1, 1)
	p := newTestPolicy(t, "weighted", PolicyOptions{Targets: targets[:2]})
	// targets[2] has Index 2, beyond the two known at construction: the
	// pick is weighted random and never panics.
	counts := make([]int, 3)
	for range 4000 {
		counts[p.Pick(targets, nil).Index()]++
	}
	for i, want := range []int{2000, 1000, 1000} {
		if counts[i] < want*8/10 || counts[i] > want*12/10 {
			t.Errorf("grown pool: target %d got %d, want about %d", i, counts[i], want)
		}
	}
	// A list filtered down to one target returns it.
	for i := range 4 {
		if got := p.Pick(targets[1:2], nil); got != targets[1] {
			t.Fatalf("pick %d on one target = %s", i, got)
		}
	}
}
