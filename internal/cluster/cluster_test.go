package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

func TestLocalClusterHasNoRateLimiter(t *testing.T) {
	t.Parallel()
	c, err := New(config.Cluster{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis() != nil || c.RateLimiter() != nil {
		t.Fatal("local cluster offers Redis")
	}
	var nilc *Cluster
	if nilc.RateLimiter() != nil || nilc.Prefix() != "" || nilc.Close() != nil {
		t.Fatal("nil cluster must be local")
	}
}

func TestRateLimiterTake(t *testing.T) {
	srv := redisserver.Start(t)
	c, err := New(config.Cluster{Redis: &config.Redis{Address: srv.Addr(), Prefix: "t:", Timeout: config.Duration(time.Second)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rl := c.RateLimiter()
	for i, want := range []int64{2, 1, 0} {
		res, err := rl.Take("k", time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed || res.Remaining != want {
			t.Fatalf("take %d: %+v, want allowed with %d remaining", i, res, want)
		}
	}
	res, err := rl.Take("k", time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Redis' clock moves between calls: allow a second of slack.
	if res.Allowed || res.RetryAfter > time.Hour || res.RetryAfter < time.Hour-time.Second || res.ResetAfter < 3*time.Hour-time.Second {
		t.Fatalf("over the burst: %+v", res)
	}
	// The key lives under the prefix and expires when the bucket is full.
	ttl, err := c.Redis().PTTL(t.Context(), "t:k").Result()
	if err != nil || ttl <= 2*time.Hour || ttl > 3*time.Hour {
		t.Fatalf("PTTL t:k = %v, %v; want about 3h", ttl, err)
	}
	if _, err := rl.Take("k", 0, 3); !errors.Is(err, ErrBadParams) {
		t.Fatalf("zero interval: %v", err)
	}
	if _, err := rl.Take("k", 24*time.Hour, 1<<40); !errors.Is(err, ErrBadParams) {
		t.Fatalf("huge window: %v", err)
	}
}

func TestRateLimiterDownIsUnavailable(t *testing.T) {
	srv := redisserver.Start(t)
	addr := srv.Addr()
	srv.Stop()
	c, err := New(config.Cluster{Redis: &config.Redis{Address: addr, Timeout: config.Duration(200 * time.Millisecond)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	start := time.Now()
	if _, err := c.RateLimiter().Take("k", time.Second, 1); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Redis down: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a failing call took %v", d)
	}
	// In back-off: no I/O, immediate.
	if _, err := c.RateLimiter().Take("k", time.Second, 1); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("in back-off: %v", err)
	}
}

// TestHealthBackoff drives the gate on an injected clock.
func TestHealthBackoff(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Unix(1000, 0).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var logs bytes.Buffer
	h := newHealth(slog.New(slog.NewTextHandler(&logs, nil)), "r:6379", clock, time.Second, 4*time.Second)
	boom := errors.New("boom")

	if !h.try() {
		t.Fatal("up: try must pass")
	}
	h.fail(boom)
	h.fail(boom) // concurrent failures of in-flight calls: logged once
	steps := []struct {
		advance time.Duration
		probe   bool
	}{
		{0, false},
		{999 * time.Millisecond, false},
		{time.Millisecond, true}, // 1s back-off over; probe fails → 2s
		{1999 * time.Millisecond, false},
		{time.Millisecond, true}, // → 4s
		{4 * time.Second, true},  // capped at 4s
	}
	for i, st := range steps {
		now.Add(int64(st.advance))
		got := h.try()
		if got != st.probe {
			t.Fatalf("step %d: try = %v, want %v", i, got, st.probe)
		}
		if got {
			if h.try() {
				t.Fatalf("step %d: a second probe went through", i)
			}
			h.fail(boom)
		}
	}
	now.Add(int64(4 * time.Second))
	if !h.try() {
		t.Fatal("probe due")
	}
	h.ok()
	if !h.try() || !h.try() {
		t.Fatal("recovered: every call passes")
	}
	out := logs.String()
	if strings.Count(out, "redis unavailable") != 1 || strings.Count(out, "redis available again") != 1 {
		t.Fatalf("logs:\n%s", out)
	}
}
