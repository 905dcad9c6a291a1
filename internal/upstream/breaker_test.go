package upstream

import (
	"errors"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

func TestAcquire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		max   int
		admit int // of 5 concurrent requests
	}{
		{"no bound", 0, 5},
		{"bound 2", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := hcPool(t, 1, config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxRequests: tc.max}}, PoolOptions{})
			admitted := 0
			for range 5 {
				err := p.Acquire()
				if err == nil {
					admitted++
					continue
				}
				if !errors.Is(err, protocol.ErrOverloaded) || protocol.StatusFor(err) != 503 {
					t.Fatalf("err = %v, want ErrOverloaded (503)", err)
				}
			}
			if admitted != tc.admit || p.InFlight() != int64(tc.admit) {
				t.Fatalf("admitted %d (in flight %d), want %d", admitted, p.InFlight(), tc.admit)
			}
			p.Release()
			if err := p.Acquire(); err != nil {
				t.Fatalf("after Release: %v", err)
			}
		})
	}
}

func TestAcquireAllocs(t *testing.T) {
	p := hcPool(t, 1, config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxRequests: 1}}, PoolOptions{})
	if n := testing.AllocsPerRun(100, func() {
		if p.Acquire() == nil {
			p.Acquire() // refused
			p.Release()
		}
	}); n != 0 {
		t.Fatalf("Acquire allocates %v times", n)
	}
}
