package upstream

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// PickClaim keeps max_requests_per_target exact under concurrency: no
// target ever holds more exchanges than the bound, however many requests
// pick at the same instant; the others get ErrOverloaded.
func TestPickClaimExactBound(t *testing.T) {
	t.Parallel()
	p, err := NewPool("c", config.Upstream{Targets: []string{"10.0.0.1:80", "10.0.0.2:80"}, Policy: "random",
		CircuitBreaker: config.CircuitBreaker{MaxRequestsPerTarget: 2}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var over, granted, worst atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			for range 200 {
				var pc PickContext
				tg, err := p.PickClaim(&pc)
				if err != nil {
					if !errors.Is(err, protocol.ErrOverloaded) {
						t.Errorf("PickClaim: %v", err)
					}
					over.Add(1)
					continue
				}
				granted.Add(1)
				for {
					n, w := tg.InFlight(), worst.Load()
					if n <= w || worst.CompareAndSwap(w, n) {
						break
					}
				}
				for range 3 { // hold the slot while others pick
					runtime.Gosched()
				}
				tg.Done()
			}
		})
	}
	close(start)
	wg.Wait()
	if w := worst.Load(); w > 2 {
		t.Fatalf("a target held %d exchanges at once, max_requests_per_target is 2", w)
	}
	if granted.Load() == 0 {
		t.Fatal("no exchange was ever granted")
	}
	for _, tg := range p.Targets() {
		if tg.InFlight() != 0 {
			t.Fatalf("target %s left with %d in flight", tg, tg.InFlight())
		}
	}
	t.Logf("granted %d, refused %d", granted.Load(), over.Load())
}
