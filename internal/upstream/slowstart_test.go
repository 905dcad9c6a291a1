package upstream

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestSlowFactor(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	p := hcPool(t, 2, config.Upstream{SlowStart: config.Duration(10 * time.Second)}, PoolOptions{Now: clk.Now})
	tg := p.Targets()[0]
	if f := p.States()[0].SlowStart; f != 1 {
		t.Fatalf("initial target in slow start: %v", f)
	}
	tg.health.since.Store(clk.At(0)) // returned now
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{
		{0, 0.1}, {time.Second, 0.19}, {5 * time.Second, 0.55}, {9 * time.Second, 0.91}, {10 * time.Second, 1}, {time.Hour, 1},
	} {
		if f := p.health.slowFactor(tg, tg.health.since.Load()+int64(tc.at)); math.Abs(f-tc.want) > 1e-9 {
			t.Errorf("at %v: factor %v, want %v", tc.at, f, tc.want)
		}
	}
}

// TestSlowStartShare ejects one of two targets, lets it return, and
// measures its share of picks as the ramp proceeds. Under random choice a
// target at factor f gets f of its share (f/2); under round robin the
// re-pick advances the turn too, so it gets f/(1+f): less exact, still a
// ramp from about a tenth to all of its share.
func TestSlowStartShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy string
		share  func(f float64) float64
	}{
		{config.PolicyRandom, func(f float64) float64 { return f / 2 }},
		{config.PolicyRoundRobin, func(f float64) float64 { return f / (1 + f) }},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			clk := newHCClock()
			rng := rand.New(rand.NewPCG(1, 2))
			p := hcPool(t, 2, config.Upstream{
				Policy:    tc.policy,
				SlowStart: config.Duration(10 * time.Second),
				Passive:   config.PassiveHealth{ConsecutiveFailures: 1, BaseEjection: config.Duration(time.Second)},
			}, PoolOptions{Now: clk.Now, Rand: rng.Uint64})
			p.Start()
			tg := p.Targets()[0]
			p.Report(tg, Outcome{Failed: true})
			share := func() float64 {
				n := 0
				for range 4000 {
					got, err := p.Pick(&PickContext{})
					if err != nil {
						t.Fatal(err)
					}
					if got == tg {
						n++
					}
				}
				return float64(n) / 4000
			}
			if s := share(); s != 0 {
				t.Fatalf("ejected target got %v", s)
			}
			clk.Add(time.Second) // back: factor 0.1
			for _, step := range []struct {
				after time.Duration
				f     float64
			}{
				{0, 0.1}, {5 * time.Second, 0.55}, {4 * time.Second, 0.91}, {time.Second, 1},
			} {
				clk.Add(step.after)
				if s, want := share(), tc.share(step.f); math.Abs(s-want) > 0.03 {
					t.Fatalf("factor %v: share %v, want about %v", step.f, s, want)
				}
			}
		})
	}
}

func TestSlowStartAddedTarget(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	p := hcPool(t, 2, config.Upstream{SlowStart: config.Duration(10 * time.Second)}, PoolOptions{Now: clk.Now})
	p.Start()
	clk.Add(time.Second)
	nt, err := ParseTarget("127.0.0.1:9200", 2)
	if err != nil {
		t.Fatal(err)
	}
	nt.added = clk.At(0)
	p.setTargets(append(append([]*Target(nil), p.Targets()...), nt))
	clk.Add(5 * time.Second)
	st := p.States()
	if st[0].SlowStart != 1 || st[1].SlowStart != 1 || math.Abs(st[2].SlowStart-0.55) > 1e-9 {
		t.Fatalf("slow start factors %v %v %v, want 1 1 0.55", st[0].SlowStart, st[1].SlowStart, st[2].SlowStart)
	}
}
