package e2e

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// nameServer is an in-process backend answering its name after delay.
func nameServer(t *testing.T, name string, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			time.Sleep(delay) // the backend's own latency, not synchronisation
		}
		w.Write([]byte(name))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func countBodies(bodies []string) map[string]int {
	m := map[string]int{}
	for _, b := range bodies {
		m[b]++
	}
	return m
}

func upstreamConfig(policy string, targets []string, extra string) string {
	var b strings.Builder
	for _, tg := range targets {
		fmt.Fprintf(&b, "      - %q\n", tg)
	}
	return fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:0"
log:
  level: info
routes:
  - upstream: app
upstreams:
  app:
    policy: %s
    targets:
%s%s
`, policy, b.String(), extra)
}

// Weighted 3:1 over 10,000 requests → 75/25 within 2 %; round robin over
// sequential requests → even within 1.
func TestBalanceWeightedAndRoundRobin(t *testing.T) {
	a, b := nameServer(t, "a", 0), nameServer(t, "b", 0)

	t.Run("weighted", func(t *testing.T) {
		gw := start(t, upstreamConfig("weighted", []string{a + " weight=3", b}, ""))
		const n = 10000
		got := countBodies(sendParallel(t, gw.URL("/"), n, 4, nil))
		share := float64(got["a"]) / n
		if math.Abs(share-0.75) > 0.02 || got["a"]+got["b"] != n {
			t.Fatalf("weighted 3:1 gave %v (a share %.3f), want 75%% ± 2%%", got, share)
		}
	})
	t.Run("round_robin", func(t *testing.T) {
		c := nameServer(t, "c", 0)
		gw := start(t, upstreamConfig("round_robin", []string{a, b, c}, ""))
		const n = 999
		got := countBodies(sendN(t, gw.URL("/"), n, nil))
		for _, name := range []string{"a", "b", "c"} {
			if d := got[name] - n/3; d < -1 || d > 1 {
				t.Fatalf("round robin gave %v, want %d each ± 1", got, n/3)
			}
		}
	})
}

// One of four backends 20x slower: p2c_ewma sends it < 10 % of the
// requests, round robin its 25 %.
func TestBalanceP2CAvoidsSlowBackend(t *testing.T) {
	fast := []string{nameServer(t, "f1", time.Millisecond), nameServer(t, "f2", time.Millisecond), nameServer(t, "f3", time.Millisecond)}
	slow := nameServer(t, "slow", 20*time.Millisecond)
	targets := append(fast, slow)
	const n = 2000
	for _, tc := range []struct {
		policy   string
		min, max float64
	}{
		{"p2c_ewma", 0, 0.10},
		{"round_robin", 0.24, 0.26},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			gw := start(t, upstreamConfig(tc.policy, targets, ""))
			got := countBodies(sendParallel(t, gw.URL("/"), n, 8, nil))
			share := float64(got["slow"]) / n
			t.Logf("%s: %v (slow share %.3f)", tc.policy, got, share)
			if share < tc.min || share > tc.max {
				t.Fatalf("%s sent %.1f%% to the slow backend, want %.0f%%–%.0f%%", tc.policy, share*100, tc.min*100, tc.max*100)
			}
		})
	}
}

// Consistent hash over 10 targets: removing one remaps ≤ 12 % of 10,000
// keys, and only keys that were on the removed target.
func TestBalanceConsistentHash(t *testing.T) {
	var targets []string
	for i := range 10 {
		targets = append(targets, nameServer(t, fmt.Sprintf("t%d", i), 0))
	}
	const n = 10000
	key := func(i int) (string, string) { return "X-User", fmt.Sprintf("user-%d", i) }
	extra := "    hash: { key: \"header:X-User\" }\n"
	gw := start(t, upstreamConfig("hash", targets, extra))
	before := sendParallel(t, gw.URL("/"), n, 4, key)
	again := sendParallel(t, gw.URL("/"), n, 4, key)
	for i := range before {
		if before[i] != again[i] {
			t.Fatalf("key %d moved from %s to %s without any change", i, before[i], again[i])
		}
	}

	gw.RewriteOK(upstreamConfig("hash", targets[:9], extra), true) // t9 removed
	after := sendParallel(t, gw.URL("/"), n, 4, key)
	moved := 0
	for i := range before {
		if before[i] == after[i] {
			continue
		}
		moved++
		if before[i] != "t9" {
			t.Fatalf("key %d moved from %s to %s, but only keys of the removed t9 may move", i, before[i], after[i])
		}
	}
	if float64(moved)/n > 0.12 {
		t.Fatalf("%d of %d keys moved (%.1f%%), want ≤ 12%%", moved, n, float64(moved)*100/n)
	}
	t.Logf("%d of %d keys moved after removing 1 of 10 targets", moved, n)
}
