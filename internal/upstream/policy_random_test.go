package upstream

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// seededRand returns a deterministic, concurrency-safe random source.
func seededRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64()
	}
}

// newTestPolicy builds a registered policy with deterministic randomness
// and a fixed clock.
func newTestPolicy(t testing.TB, name string, opts PolicyOptions) Policy {
	t.Helper()
	if opts.Rand == nil {
		opts.Rand = seededRand(1)
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return 1_000_000_000 }
	}
	p, err := NewPolicy(name, opts)
	if err != nil {
		t.Fatalf("NewPolicy(%q): %v", name, err)
	}
	return p
}

// weightedTargets returns targets with the given weights.
func weightedTargets(t testing.TB, weights ...int) []*Target {
	t.Helper()
	ts := make([]*Target, len(weights))
	for i, w := range weights {
		tg, err := ParseTarget(fmt.Sprintf("127.0.0.1:%d weight=%d", 9000+i, w), i)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tg
	}
	return ts
}

func TestRandomUniform(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			targets := testTargets(t, n)
			p := newTestPolicy(t, "random", PolicyOptions{Targets: targets})
			const picks = 10000
			counts := make(map[*Target]int)
			for range picks {
				counts[p.Pick(targets, nil)]++
			}
			for _, tg := range targets {
				// ±15% of the expected share: far beyond 5 sigma at n ≤ 5.
				if want := picks / n; counts[tg] < want*85/100 || counts[tg] > want*115/100 {
					t.Errorf("%s got %d picks, want about %d", tg, counts[tg], want)
				}
			}
		})
	}
}

func TestRandNBounds(t *testing.T) {
	t.Parallel()
	for _, r := range []uint64{0, 1, 1 << 63, ^uint64(0)} {
		for _, n := range []int{1, 2, 3, 1000} {
			if got := randN(func() uint64 { return r }, n); got < 0 || got >= n {
				t.Errorf("randN(%#x, %d) = %d, out of range", r, n, got)
			}
		}
	}
}

func TestFirst(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 3)
	p := newTestPolicy(t, "first", PolicyOptions{Targets: targets})
	for _, tc := range []struct {
		name string
		list []*Target
		want *Target
	}{
		{"all", targets, targets[0]},
		{"first down", targets[1:], targets[1]},
		{"only last", targets[2:], targets[2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Pick(tc.list, nil); got != tc.want {
				t.Errorf("Pick = %s, want %s", got, tc.want)
			}
		})
	}
}
