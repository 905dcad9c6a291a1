package upstream

import (
	"math"
	"sync"
	"testing"
	"time"
)

const sec = int64(time.Second)

// durf converts a float number of nanoseconds.
func durf(ns float64) time.Duration { return time.Duration(ns) }

func TestEWMA(t *testing.T) {
	t.Parallel()
	type sample struct {
		d  time.Duration
		at int64 // seconds
	}
	for _, tc := range []struct {
		name    string
		samples []sample
		readAt  int64 // seconds
		want    time.Duration
	}{
		{"none", nil, 5, 0},
		{"first sample is the estimate", []sample{{10 * time.Millisecond, 1}}, 1, 10 * time.Millisecond},
		{"peak replaces at once", []sample{{10 * time.Millisecond, 1}, {200 * time.Millisecond, 1}}, 1, 200 * time.Millisecond},
		{"same time lower sample has no weight", []sample{{200 * time.Millisecond, 1}, {10 * time.Millisecond, 1}}, 1, 200 * time.Millisecond},
		// After one time constant the old value weighs 1/e.
		{"lower sample averages", []sample{{200 * time.Millisecond, 1}, {10 * time.Millisecond, 11}}, 11,
			durf(200e6/math.E + 10e6*(1-1/math.E))},
		{"decays while idle", []sample{{100 * time.Millisecond, 1}}, 11, durf(100e6 / math.E)},
		{"out of order report", []sample{{100 * time.Millisecond, 10}, {50 * time.Millisecond, 5}}, 10, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := testTargets(t, 1)[0]
			for _, s := range tc.samples {
				tg.ObserveLatency(s.d, s.at*sec)
			}
			got := tg.Latency(tc.readAt * sec)
			if diff := math.Abs(float64(got - tc.want)); diff > 1000 { // 1µs
				t.Errorf("Latency = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEWMAConcurrent(t *testing.T) {
	t.Parallel()
	tg := testTargets(t, 1)[0]
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				tg.ObserveLatency(time.Duration(1+w)*time.Millisecond, int64(i)*int64(time.Millisecond))
				if l := tg.Latency(int64(i) * int64(time.Millisecond)); l < 0 || l > 4*time.Millisecond {
					t.Errorf("Latency = %v, outside the samples' range", l)
					return
				}
			}
		})
	}
	wg.Wait()
}

// simulate runs picks on p where each pick is answered after latency(t)
// and the clock advances step per pick; it returns the picks per target.
func simulate(targets []*Target, p Policy, now *int64, picks int, step time.Duration, latency func(*Target) time.Duration) []int {
	counts := make([]int, len(targets))
	for range picks {
		tg := p.Pick(targets, nil)
		counts[tg.Index()]++
		*now += int64(step)
		tg.ObserveLatency(latency(tg), *now)
	}
	return counts
}

func TestP2CAvoidsSlowTarget(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 4)
	now := 10 * sec
	p := newTestPolicy(t, "p2c_ewma", PolicyOptions{Targets: targets, Now: func() int64 { return now }})
	slow := targets[2]
	counts := simulate(targets, p, &now, 10000, time.Millisecond, func(tg *Target) time.Duration {
		if tg == slow {
			return 200 * time.Millisecond
		}
		return 10 * time.Millisecond
	})
	t.Logf("picks per target (slow = 2): %v", counts)
	if counts[2] >= 1000 {
		t.Errorf("slow target got %d of 10000 picks, want < 10%% (counts %v)", counts[2], counts)
	}
	for i, c := range counts {
		if i != 2 && c < 2500 {
			t.Errorf("fast target %d got %d picks, want about a third (counts %v)", i, c, counts)
		}
	}
}

func TestP2CProbesRecoveredTarget(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 2)
	now := 10 * sec
	p := newTestPolicy(t, "p2c_ewma", PolicyOptions{Targets: targets, Now: func() int64 { return now }})
	targets[0].ObserveLatency(10*time.Millisecond, now)
	targets[1].ObserveLatency(time.Second, now)
	// Only the fast one is picked while the slow one's estimate is high...
	if got := p.Pick(targets, nil); got != targets[0] {
		t.Fatalf("picked the slow target")
	}
	// ...and the idle estimate decays, so after ~50 s (ln 100 time
	// constants) without news the slow target is tried again.
	now += 60 * sec
	targets[0].ObserveLatency(10*time.Millisecond, now)
	if got := p.Pick(targets, nil); got != targets[1] {
		t.Errorf("the formerly slow target is not probed after a minute idle")
	}
}

func TestP2CCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// a, b: latency (0 = no sample), in flight, weight
		aLat, bLat       time.Duration
		aFlight, bFlight int
		aWeight, bWeight int
		wantA            bool
	}{
		{"lower latency", 10 * time.Millisecond, 20 * time.Millisecond, 0, 0, 1, 1, true},
		{"in flight counts", 10 * time.Millisecond, 20 * time.Millisecond, 3, 0, 1, 1, false},
		{"new idle target is tried", 10 * time.Millisecond, 0, 0, 0, 1, 1, false},
		{"new busy target waits", 10 * time.Millisecond, 0, 5, 1, 1, 1, true},
		{"weight divides", 30 * time.Millisecond, 20 * time.Millisecond, 0, 0, 2, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := weightedTargets(t, tc.aWeight, tc.bWeight)
			for i, lat := range []time.Duration{tc.aLat, tc.bLat} {
				if lat > 0 {
					ts[i].ObserveLatency(lat, sec)
				}
			}
			for range tc.aFlight {
				ts[0].Begin()
			}
			for range tc.bFlight {
				ts[1].Begin()
			}
			a, b := p2cCost(ts[0], sec), p2cCost(ts[1], sec)
			if (a < b) != tc.wantA {
				t.Errorf("cost a=%g b=%g, want a cheaper: %v", a, b, tc.wantA)
			}
		})
	}
}

func TestP2CDistinctChoices(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 2)
	// A source that always returns the same number would make a naive
	// implementation compare a target with itself; with two distinct
	// choices the cheaper one always wins.
	targets[0].ObserveLatency(time.Second, sec)
	targets[1].ObserveLatency(time.Millisecond, sec)
	p := newTestPolicy(t, "p2c_ewma", PolicyOptions{Targets: targets, Rand: func() uint64 { return 0 }})
	for range 10 {
		if got := p.Pick(targets, nil); got != targets[1] {
			t.Fatalf("Pick = %s, want the fast target", got)
		}
	}
	one := targets[:1]
	if got := p.Pick(one, nil); got != targets[0] {
		t.Fatalf("single target: Pick = %s", got)
	}
}
