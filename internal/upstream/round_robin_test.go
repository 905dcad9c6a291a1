package upstream

import (
	"fmt"
	"sync"
	"testing"
)

func testTargets(t testing.TB, n int) []*Target {
	t.Helper()
	ts := make([]*Target, n)
	for i := range ts {
		tg, err := ParseTarget(fmt.Sprintf("127.0.0.1:%d", 9000+i), i)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tg
	}
	return ts
}

func TestRoundRobinEven(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			targets := testTargets(t, n)
			rr := &RoundRobin{}
			const rounds = 100
			counts := make(map[*Target]int)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 4 { // concurrent pickers: the total stays exact
				wg.Go(func() {
					local := make(map[*Target]int)
					for range rounds * n / 4 * 1 {
						local[rr.Pick(targets, nil)]++
					}
					mu.Lock()
					for k, v := range local {
						counts[k] += v
					}
					mu.Unlock()
				})
			}
			wg.Wait()
			total := 0
			for _, c := range counts {
				total += c
			}
			for _, tg := range targets {
				if want := total / n; counts[tg] != want {
					t.Errorf("target %s picked %d times, want %d (total %d)", tg, counts[tg], want, total)
				}
			}
		})
	}
}

func TestRoundRobinOrder(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 3)
	rr := &RoundRobin{}
	for i := range 9 {
		if got := rr.Pick(targets, nil); got != targets[i%3] {
			t.Fatalf("pick %d = %s, want %s", i, got, targets[i%3])
		}
	}
}

func TestNewPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{"", false}, // the default, p2c_ewma
		{"round_robin", false},
		{"no_such_policy", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(tc.name, PolicyOptions{})
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewPolicy(%q) err = %v, wantErr %v", tc.name, err, tc.wantErr)
			}
			if err == nil && p == nil {
				t.Fatal("nil policy")
			}
		})
	}
}
