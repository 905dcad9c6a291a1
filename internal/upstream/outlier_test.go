package upstream

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestEjectionConsecutive(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	log := &hcLog{}
	p := hcPool(t, 4, config.Upstream{Passive: config.PassiveHealth{
		ConsecutiveFailures: 3,
		BaseEjection:        config.Duration(10 * time.Second),
		MaxEjection:         config.Duration(25 * time.Second),
	}}, PoolOptions{Now: clk.Now, Logger: slogNew(log)})
	tg := p.Targets()[0]
	fail := func(n int) {
		for range n {
			p.Report(tg, Outcome{Failed: true})
		}
	}
	fail(2)
	p.Report(tg, Outcome{Latency: time.Millisecond}) // a success resets the count
	fail(2)
	if !tg.Available(clk.Now()) {
		t.Fatal("ejected before 3 consecutive failures")
	}
	// Each ejection: length, then expiry.
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 25 * time.Second, 25 * time.Second} {
		if i > 0 {
			fail(3)
		} else {
			fail(1)
		}
		st := p.States()[0]
		if !st.Ejected || st.EjectedUntil.UnixNano() != clk.At(want) {
			t.Fatalf("ejection %d: state %+v, want ejected for %v", i+1, st, want)
		}
		if tg.Available(clk.Now()) {
			t.Fatalf("ejection %d: still available", i+1)
		}
		clk.Add(want - time.Nanosecond)
		if tg.Available(clk.Now()) {
			t.Fatalf("ejection %d: back before its end", i+1)
		}
		clk.Add(time.Nanosecond)
		if !tg.Available(clk.Now()) {
			t.Fatalf("ejection %d: not back at its end", i+1)
		}
	}
	// Serving well for base_ejection after the return resets the multiplier.
	p.Report(tg, Outcome{Latency: time.Millisecond})
	clk.Add(10 * time.Second)
	p.Report(tg, Outcome{Latency: time.Millisecond})
	fail(3)
	if st := p.States()[0]; st.EjectedUntil.UnixNano() != clk.At(10*time.Second) {
		t.Fatalf("after recovery: ejected until %v, want base ejection", st.EjectedUntil)
	}
	if n := log.count("upstream target ejected 127.0.0.1:9100"); n != 5 {
		t.Fatalf("%d ejection logs, want 5", n)
	}
	if st := p.States()[0]; st.Failures != 17 || st.Requests != 20 {
		t.Fatalf("counters %+v", st)
	}
}

func TestEjectionCaps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		targets int
		percent int
		want    int // how many of all targets end up ejected
	}{
		{"default 50% of 4", 4, 0, 2},
		{"50% of 3", 3, 50, 1},
		{"100% keeps the last one", 3, 100, 2},
		{"single target never", 1, 100, 0},
		{"10% of 4 is none", 4, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newHCClock()
			p := hcPool(t, tc.targets, config.Upstream{Passive: config.PassiveHealth{ConsecutiveFailures: 1, MaxEjectedPercent: tc.percent}},
				PoolOptions{Now: clk.Now})
			for _, tg := range p.Targets() {
				p.Report(tg, Outcome{Failed: true})
			}
			got := 0
			for _, st := range p.States() {
				if st.Ejected {
					got++
				}
			}
			if got != tc.want {
				t.Fatalf("%d ejected, want %d", got, tc.want)
			}
		})
	}
}

func TestEjectionErrorRate(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	p := hcPool(t, 2, config.Upstream{Passive: config.PassiveHealth{
		ConsecutiveFailures: 100, ErrorRate: 50, MinRequests: 10, Window: config.Duration(10 * time.Second),
	}}, PoolOptions{Now: clk.Now})
	tg := p.Targets()[0]
	// 4 ok + 4 failed: 50% but under min_requests.
	for range 4 {
		p.Report(tg, Outcome{Latency: time.Millisecond})
		p.Report(tg, Outcome{Failed: true})
	}
	if !tg.Available(clk.Now()) {
		t.Fatal("ejected under min_requests")
	}
	// The window slides: those 8 are forgotten after 10s.
	clk.Add(11 * time.Second)
	for range 5 {
		p.Report(tg, Outcome{Latency: time.Millisecond})
		p.Report(tg, Outcome{Latency: time.Millisecond})
		p.Report(tg, Outcome{Failed: true})
	}
	if !tg.Available(clk.Now()) {
		t.Fatal("ejected at 33%")
	}
	for range 5 {
		p.Report(tg, Outcome{Failed: true})
	}
	if tg.Available(clk.Now()) {
		t.Fatal("not ejected at 50% over 20 requests")
	}
}

func TestPassiveDisabled(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	p := hcPool(t, 2, config.Upstream{Passive: config.PassiveHealth{Disabled: true}}, PoolOptions{Now: clk.Now})
	for range 50 {
		p.Report(p.Targets()[0], Outcome{Failed: true})
	}
	if st := p.States()[0]; st.Ejected || st.Failures != 50 {
		t.Fatalf("state %+v", st)
	}
}

func TestReportAllocs(t *testing.T) {
	p := hcPool(t, 3, config.Upstream{Passive: config.PassiveHealth{ConsecutiveFailures: 1 << 30, ErrorRate: 90}}, PoolOptions{})
	tg := p.Targets()[1]
	if n := testing.AllocsPerRun(200, func() {
		p.Report(tg, Outcome{Latency: time.Millisecond})
		p.Report(tg, Outcome{Failed: true})
	}); n != 0 {
		t.Fatalf("Report allocates %v times", n)
	}
}
