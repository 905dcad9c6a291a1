package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// logCount is a slog.Handler counting records by message.
type logCount struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCount) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCount) WithGroup(string) slog.Handler            { return l }
func (l *logCount) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[r.Message]++
	return nil
}
func (l *logCount) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := 0
	for m, n := range l.n {
		if strings.HasPrefix(m, prefix) {
			t += n
		}
	}
	return t
}

// instance is one "Gatehouse": its own cluster connection and limiter.
type instance struct {
	h    http.Handler
	be   *backend
	logs *logCount
}

func newInstance(t *testing.T, addr string, settings any) *instance {
	t.Helper()
	logs := &logCount{}
	logger := slog.New(logs)
	clu, err := cluster.New(config.Cluster{Redis: &config.Redis{
		Address: addr, Prefix: "test:", Timeout: config.Duration(500 * time.Millisecond),
	}}, logger, cluster.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clu.Close() })
	be := &backend{}
	return &instance{h: build(t, Name, settings, middleware.Env{Logger: logger, Cluster: clu}, be), be: be, logs: logs}
}

func (in *instance) send(t *testing.T, key string) int {
	t.Helper()
	c := serve(in.h, request("192.0.2.1", "X-Api-Key", key)).Code
	if c != 200 && c != 429 {
		t.Fatalf("status %d: a Redis problem must never reach the client", c)
	}
	return c
}

var sharedSettings = map[string]any{"rate": "5/h", "key": "header:X-Api-Key"}

// TestClusterOneLimit: two instances sharing one Redis enforce one limit.
func TestClusterOneLimit(t *testing.T) {
	srv := redisserver.Start(t)
	a := newInstance(t, srv.Addr(), sharedSettings)
	b := newInstance(t, srv.Addr(), sharedSettings)
	allowed := 0
	for i := range 20 {
		in := a
		if i%2 == 1 {
			in = b
		}
		if in.send(t, "k") == 200 {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("%d allowed across two instances, want 5", allowed)
	}
	if got := a.be.n.Load() + b.be.n.Load(); got != 5 {
		t.Fatalf("backends saw %d", got)
	}
	// A refusal from Redis carries the same headers as a local one.
	w := serve(a.h, request("192.0.2.1", "X-Api-Key", "k"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "720" || w.Header().Get("RateLimit") != `"default";r=0;t=720` {
		t.Fatalf("shared refusal: %d %v", w.Code, w.Header())
	}
}

// TestClusterFallbackAndRecovery: Redis stopped mid-test → each instance
// limits locally (no client errors, one log line); Redis back → shared
// again, logged once.
func TestClusterFallbackAndRecovery(t *testing.T) {
	srv := redisserver.Start(t)
	a := newInstance(t, srv.Addr(), sharedSettings)
	b := newInstance(t, srv.Addr(), sharedSettings)
	if !sharedNow(t, a, b, "before") {
		t.Fatal("not shared with Redis up")
	}

	srv.Stop()
	for _, in := range []*instance{a, b} {
		allowed := 0
		for range 20 {
			if in.send(t, "down") == 200 {
				allowed++
			}
		}
		// Local buckets: each instance enforces the limit on its own.
		if allowed != 5 {
			t.Fatalf("with Redis down one instance allowed %d, want 5 (local limit)", allowed)
		}
		if n := in.logs.count("cluster: redis unavailable"); n != 1 {
			t.Fatalf("outage logged %d times, want once", n)
		}
	}

	srv.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; !sharedNow(t, a, b, fmt.Sprint("after-", i)); i++ {
		if time.Now().After(deadline) {
			t.Fatal("limits not shared again within 15s of Redis' restart")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition under a deadline
	}
	for _, in := range []*instance{a, b} {
		// Instance b may not have needed Redis yet; make sure it probes.
		deadline := time.Now().Add(5 * time.Second)
		for in.logs.count("cluster: redis available again") == 0 && time.Now().Before(deadline) {
			in.send(t, "probe")
			time.Sleep(10 * time.Millisecond) // polling under a deadline
		}
		if n := in.logs.count("cluster: redis available again"); n != 1 {
			t.Fatalf("recovery logged %d times, want once", n)
		}
		if n := in.logs.count("cluster: redis unavailable"); n != 1 {
			t.Fatalf("outage logged %d times in all, want once", n)
		}
	}
}

// sharedNow uses a fresh key: a spends the whole burst, then b's first
// request is refused only if both decided in Redis.
func sharedNow(t *testing.T, a, b *instance, key string) bool {
	t.Helper()
	for range 5 {
		a.send(t, key)
	}
	return b.send(t, key) == 429
}
