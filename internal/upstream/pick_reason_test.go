package upstream

import (
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// The pick reason tells the access log how health narrowed the choice.
func TestPickReason(t *testing.T) {
	t.Parallel()
	p, err := NewPool("r", config.Upstream{Targets: []string{"10.0.0.1:80", "10.0.0.2:80"}, Policy: "round_robin"}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pc PickContext
	if _, err := p.Pick(&pc); err != nil || pc.Reason != "round_robin" {
		t.Fatalf("healthy pick: reason %q, err %v", pc.Reason, err)
	}
	a := p.Targets()[0]
	pc = PickContext{}
	pc.Tried.Add(a)
	if got, _ := p.Pick(&pc); got == a || pc.Reason != "round_robin, unavailable or tried targets skipped" {
		t.Fatalf("retry pick: got %s, reason %q", got, pc.Reason)
	}
	pc = PickContext{}
	pc.Tried.Add(p.Targets()[0])
	pc.Tried.Add(p.Targets()[1])
	if _, _ = p.Pick(&pc); pc.Reason != "round_robin, all tried: trying again" {
		t.Fatalf("all tried: reason %q", pc.Reason)
	}
	for range config.DefaultConsecutiveFailures {
		p.Report(a, Outcome{Failed: true})
	}
	pc = PickContext{}
	pc.Tried.Add(p.Targets()[1])
	if got, _ := p.Pick(&pc); got != a || pc.Reason != "round_robin, none available: tried anyway" {
		t.Fatalf("ejected + tried: got %s, reason %q", got, pc.Reason)
	}
}
