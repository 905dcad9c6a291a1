package upstream

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// A reload that changes an upstream (a target added) builds a new pool;
// the target that stays keeps its ejection and latency estimate, the new
// one starts fresh.
func TestInheritKeepsStateByAddress(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	opts := PoolOptions{Now: func() time.Time { return now }}
	old, err := NewPool("u", config.Upstream{Targets: []string{"10.0.0.1:80", "10.0.0.2:80"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := old.Targets()[0]
	for range config.DefaultConsecutiveFailures {
		old.Report(a, Outcome{Failed: true})
	}
	old.Report(old.Targets()[1], Outcome{Latency: 30 * time.Millisecond})
	if a.Available(now) {
		t.Fatal("setup: target not ejected")
	}
	next, err := NewPool("u", config.Upstream{Targets: []string{"http://10.0.0.2:80", "10.0.0.1:80", "10.0.0.3:80"}, Policy: "round_robin"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	next.Inherit(old)
	byAddr := map[string]*Target{}
	for _, tg := range next.Targets() {
		byAddr[tg.Address()] = tg
	}
	if byAddr["10.0.0.1:80"].Available(now) {
		t.Errorf("the ejected target came back with the reload")
	}
	if got := byAddr["10.0.0.2:80"].Latency(now.UnixNano()); got < 25*time.Millisecond {
		t.Errorf("latency estimate of the kept target = %v, want ~30ms", got)
	}
	if !byAddr["10.0.0.3:80"].Available(now) || byAddr["10.0.0.3:80"].Latency(now.UnixNano()) != 0 {
		t.Errorf("the new target did not start fresh")
	}
}

// A reload that removes the active check does not keep a target down
// forever: only a check could bring it back.
func TestInheritDropsActiveStateWithoutChecks(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	opts := PoolOptions{Now: func() time.Time { return now }}
	old, err := NewPool("u", config.Upstream{Targets: []string{"10.0.0.1:80"},
		HealthCheck: &config.HealthCheck{Type: "tcp", Interval: config.Duration(time.Second), Timeout: config.Duration(time.Second), Rise: 1, Fall: 1}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	old.Targets()[0].health.down.Store(true)
	next, err := NewPool("u", config.Upstream{Targets: []string{"10.0.0.1:80"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	next.Inherit(old)
	if !next.Targets()[0].Available(now) {
		t.Fatal("a target marked down by a check that no longer exists stays down")
	}
}

// A target added by a reload ramps up under slow start; the ones that
// stay are at full share.
func TestInheritAddedTargetSlowStarts(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	opts := PoolOptions{Now: func() time.Time { return now }}
	cfg := config.Upstream{Targets: []string{"10.0.0.1:80"}, SlowStart: config.Duration(30 * time.Second)}
	old, err := NewPool("u", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Targets = []string{"10.0.0.1:80", "10.0.0.2:80"}
	next, err := NewPool("u", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	next.Inherit(old)
	next.Start()
	defer next.Close()
	n := now.UnixNano()
	for _, tg := range next.Targets() {
		f := next.health.slowFactor(tg, n)
		switch tg.Address() {
		case "10.0.0.1:80":
			if f != 1 {
				t.Errorf("kept target at slow-start factor %v, want 1", f)
			}
		case "10.0.0.2:80":
			if f >= 0.2 {
				t.Errorf("added target at slow-start factor %v, want the ramp's start", f)
			}
		}
	}
}
