package upstream

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// hcSetup prepares targets of a 4-target pool for one pick case.
type hcSetup struct {
	down, ejected, tried, busy []int
}

func TestPickFilters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   config.Upstream
		setup hcSetup
		want  []int // the targets picks may land on; nil: ErrOverloaded
	}{
		{"all up", config.Upstream{}, hcSetup{}, []int{0, 1, 2, 3}},
		{"skip down and ejected", config.Upstream{}, hcSetup{down: []int{0}, ejected: []int{2}}, []int{1, 3}},
		{"skip tried", config.Upstream{}, hcSetup{tried: []int{1, 2}}, []int{0, 3}},
		{"all down: try anyway", config.Upstream{}, hcSetup{down: []int{0, 1}, ejected: []int{2, 3}}, []int{0, 1, 2, 3}},
		{"down before tried", config.Upstream{}, hcSetup{down: []int{0, 1}, tried: []int{2, 3}}, []int{0, 1}},
		{"all tried: tried up ones", config.Upstream{}, hcSetup{tried: []int{0, 1, 2, 3}, down: []int{0}}, []int{1, 2, 3}},
		{"per-target bound", config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxRequestsPerTarget: 1}},
			hcSetup{busy: []int{0, 3}}, []int{1, 2}},
		{"per-target bound beats all-down", config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxRequestsPerTarget: 1}},
			hcSetup{busy: []int{0, 1}, down: []int{2, 3}}, []int{2, 3}},
		{"all saturated", config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxRequestsPerTarget: 1}},
			hcSetup{busy: []int{0, 1, 2, 3}}, nil},
		{"pending below bound", config.Upstream{MaxConnsPerTarget: 1, CircuitBreaker: config.CircuitBreaker{MaxPending: 5}},
			hcSetup{busy: []int{0, 1, 2, 3}}, []int{0, 1, 2, 3}},
		{"pending full", config.Upstream{MaxConnsPerTarget: 1, CircuitBreaker: config.CircuitBreaker{MaxPending: 2}},
			hcSetup{busy: []int{0, 1}}, []int{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newHCClock()
			p := hcPool(t, 4, tc.cfg, PoolOptions{Now: clk.Now})
			ts := p.Targets()
			var pc PickContext
			for _, i := range tc.setup.down {
				ts[i].health.down.Store(true)
			}
			for _, i := range tc.setup.ejected {
				ts[i].health.ejectedUntil.Store(clk.At(time.Second))
			}
			for _, i := range tc.setup.tried {
				pc.Tried.Add(ts[i])
			}
			for _, i := range tc.setup.busy {
				ts[i].Begin()
				if tc.cfg.MaxConnsPerTarget > 0 {
					ts[i].Begin() // one waiting for a connection
				}
			}
			seen := map[int]int{}
			for range 40 {
				tg, err := p.Pick(&pc)
				if tc.want == nil {
					if !errors.Is(err, protocol.ErrOverloaded) || protocol.StatusFor(err) != 503 {
						t.Fatalf("err = %v, want ErrOverloaded (503)", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				seen[tg.Index()]++
			}
			if len(seen) != len(tc.want) {
				t.Fatalf("picked %v, want each of %v", seen, tc.want)
			}
			for _, i := range tc.want {
				if seen[i] == 0 {
					t.Fatalf("picked %v, want each of %v", seen, tc.want)
				}
			}
		})
	}
}

func TestPickDegradedAllocs(t *testing.T) {
	clk := newHCClock()
	p := hcPool(t, 70, config.Upstream{SlowStart: config.Duration(time.Minute)}, PoolOptions{Now: clk.Now})
	ts := p.Targets()
	ts[3].health.down.Store(true)
	ts[5].health.since.Store(clk.At(0)) // in slow start
	pc := &PickContext{}
	pc.Tried.Add(ts[4])
	if n := testing.AllocsPerRun(200, func() {
		if _, err := p.Pick(pc); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("degraded Pick allocates %v times", n)
	}
}

func BenchmarkPoolPickDegraded(b *testing.B) {
	p := hcPool(b, 8, config.Upstream{}, PoolOptions{})
	p.Targets()[2].health.down.Store(true)
	pc := &PickContext{}
	pc.Tried.Add(p.Targets()[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Pick(pc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPoolPickHealthy(b *testing.B) {
	p := hcPool(b, 8, config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxRequestsPerTarget: 100}}, PoolOptions{})
	pc := &PickContext{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Pick(pc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHealthConcurrent runs picks, reports, the breaker and the budget
// from several goroutines (for the race detector) and checks the counters
// balance.
func TestHealthConcurrent(t *testing.T) {
	t.Parallel()
	p := hcPool(t, 5, config.Upstream{
		Passive:        config.PassiveHealth{ConsecutiveFailures: 2, ErrorRate: 30, MinRequests: 5},
		CircuitBreaker: config.CircuitBreaker{MaxRequests: 3, MaxRequestsPerTarget: 2},
		SlowStart:      config.Duration(time.Second),
	}, PoolOptions{})
	p.Start()
	done := make(chan int64)
	for g := range 4 {
		go func() {
			var served int64
			for i := range 500 {
				if p.Acquire() != nil {
					continue
				}
				pc := &PickContext{}
				for j, tg := range p.Targets()[:2] {
					if (i%3)&(1<<j) != 0 {
						pc.Tried.Add(tg)
					}
				}
				if tg, err := p.Pick(pc); err == nil {
					tg.Begin()
					p.Report(tg, Outcome{Failed: (i+g)%3 == 0, Latency: time.Millisecond})
					tg.Done()
					served++
				}
				p.AllowRetry()
				p.Release()
			}
			done <- served
		}()
	}
	var served int64
	for range 4 {
		served += <-done
	}
	var reported int64
	for _, st := range p.States() {
		reported += st.Requests
		if st.InFlight != 0 {
			t.Fatalf("target %s: in flight %d", st.Target, st.InFlight)
		}
	}
	if p.InFlight() != 0 || reported != served || served == 0 {
		t.Fatalf("in flight %d, reported %d, served %d", p.InFlight(), reported, served)
	}
}
