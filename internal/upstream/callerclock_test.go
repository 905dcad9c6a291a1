package upstream

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// TestCallerClock checks that a clock reading the caller passes
// (Outcome.At, PickContext.Now) is the one the pool uses, so the own
// engine can read the clock once per exchange.
func TestCallerClock(t *testing.T) {
	t.Parallel()
	clk := newHCClock()
	p := hcPool(t, 2, config.Upstream{Passive: config.PassiveHealth{
		ConsecutiveFailures: 1,
		BaseEjection:        config.Duration(10 * time.Second),
		MaxEjection:         config.Duration(10 * time.Second),
	}}, PoolOptions{Now: clk.Now})
	tg := p.Targets()[0]
	later := clk.At(5 * time.Second)

	// The ejection is timed from At, not from the pool's own clock.
	p.Report(tg, Outcome{Failed: true, At: later})
	if st := p.States()[0]; !st.Ejected || st.EjectedUntil.UnixNano() != later+int64(10*time.Second) {
		t.Fatalf("ejected until %v, want 15s after the clock's start", st.EjectedUntil)
	}

	// A pick at the pool's own time skips the ejected target...
	for range 4 {
		pc := PickContext{}
		if got, err := p.Pick(&pc); err != nil || got == tg {
			t.Fatalf("pick at the pool's time: %v, %v (the ejected target)", got, err)
		}
	}
	// ...one at a caller's time past the ejection may choose it again.
	seen := false
	for range 4 {
		pc := PickContext{Now: later + int64(11*time.Second)}
		got, err := p.Pick(&pc)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen || got == tg
	}
	if !seen {
		t.Fatal("a pick at the caller's later time never chose the target back from ejection")
	}
	if err := p.AcquireAt(later); err != nil {
		t.Fatalf("AcquireAt: %v", err)
	}
	p.Release()
}
