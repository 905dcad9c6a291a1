package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// hcClock is an injected clock the test drives.
type hcClock struct{ ns atomic.Int64 }

func newHCClock() *hcClock {
	c := &hcClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *hcClock) Now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *hcClock) Add(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *hcClock) At(d time.Duration) int64 { return c.ns.Load() + int64(d) }

// hcLog records log messages ("message target").
type hcLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *hcLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *hcLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *hcLog) WithGroup(string) slog.Handler            { return l }
func (l *hcLog) Handle(_ context.Context, r slog.Record) error {
	target := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "target" {
			target = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message+" "+target)
	l.mu.Unlock()
	return nil
}

func (l *hcLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// hcPool builds a round-robin pool over n unreachable targets (unless cfg
// names targets) and closes it with the test.
func hcPool(t testing.TB, n int, cfg config.Upstream, opts PoolOptions) *Pool {
	t.Helper()
	if cfg.Policy == "" {
		cfg.Policy = config.PolicyRoundRobin
	}
	for i := range n {
		cfg.Targets = append(cfg.Targets, fmt.Sprintf("127.0.0.1:%d", 9100+i))
	}
	p, err := NewPool("hc", cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// hcEventually polls cond until it holds or 10s pass.
func hcEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func ptrInt(v int) *int { return &v }

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }
