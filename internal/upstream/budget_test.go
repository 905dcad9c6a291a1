package upstream

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		percent  *int
		minPerS  *int
		requests int
		want     int // retries allowed
	}{
		{"defaults, no requests", nil, nil, 0, 30},
		{"100 requests at 20% + 3/s", ptrInt(20), ptrInt(3), 100, 20 + 30},
		{"1000 requests at 10%, no minimum", ptrInt(10), ptrInt(0), 1000, 100},
		{"budget 0 keeps the minimum", ptrInt(0), ptrInt(1), 500, 10},
		{"nothing at all", ptrInt(0), ptrInt(0), 500, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newHCClock()
			p := hcPool(t, 1, config.Upstream{Retries: config.Retries{BudgetPercent: tc.percent, MinRetriesPerSecond: tc.minPerS}},
				PoolOptions{Now: clk.Now})
			for range tc.requests {
				if err := p.Acquire(); err != nil {
					t.Fatal(err)
				}
				p.Release()
			}
			got := 0
			for p.AllowRetry() {
				got++
				if got > 10*tc.want+10 {
					break
				}
			}
			if got != tc.want {
				t.Fatalf("allowed %d retries, want %d", got, tc.want)
			}
		})
	}
}

func TestRetryBudgetWindow(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	p := hcPool(t, 1, config.Upstream{Retries: config.Retries{BudgetPercent: ptrInt(50), MinRetriesPerSecond: ptrInt(0)}},
		PoolOptions{Now: clk.Now})
	count := func(n int) {
		for range n {
			p.Acquire()
			p.Release()
		}
	}
	allow := func() int {
		n := 0
		for p.AllowRetry() {
			n++
		}
		return n
	}
	count(20) // t=0: 20 requests → 10 retries
	if n := allow(); n != 10 {
		t.Fatalf("allowed %d, want 10", n)
	}
	clk.Add(5 * time.Second)
	count(10) // 30 requests in the window → 15, 10 used
	if n := allow(); n != 5 {
		t.Fatalf("allowed %d, want 5", n)
	}
	// At t=10.5s the first second (20 requests, 10 retries) left the
	// window: 10 requests → 5 retries, 5 used.
	clk.Add(5*time.Second + 500*time.Millisecond)
	if n := allow(); n != 0 {
		t.Fatalf("allowed %d, want 0", n)
	}
	clk.Add(5 * time.Second)
	count(4)
	if n := allow(); n != 2 {
		t.Fatalf("after the window: allowed %d, want 2", n)
	}
}
