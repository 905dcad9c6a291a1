package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Log messages of the upstream health machinery (internal/upstream).
const (
	msgTargetDown    = "upstream target down"
	msgTargetUp      = "upstream target up"
	msgTargetEjected = "upstream target ejected"
)

// waitTargetLog waits for a health log line about target at or after mark
// whose message is one of msgs, and returns the line.
func waitTargetLog(t *testing.T, inst *instance, mark int, target string, timeout time.Duration, msgs ...string) string {
	t.Helper()
	_, line, ok := inst.Stderr.waitFor(mark, timeout, inst.done, func(e entry, _ string) bool {
		if e.str("target") != target {
			return false
		}
		for _, m := range msgs {
			if e.str("msg") == m {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no %q log line for target %s within %v", msgs, target, timeout)
	}
	return line
}

// A backend process killed under load: no request fails at the client
// (retries, then ejection), the dead target gets no tries once it is out,
// and when it comes back the active check re-admits it and slow start
// ramps its share up.
func TestUpstreamBackendKilledUnderLoad(t *testing.T) {
	var addrs []string
	var backends []*procBackend
	for i := range 3 {
		addr := closedPort(t)
		addrs = append(addrs, addr)
		backends = append(backends, startProcBackend(t, fmt.Sprintf("b%d", i), addr))
	}
	victim := addrs[1]
	gw := start(t, upstreamConfig("round_robin", addrs, `    health_check: { path: /, interval: 100ms, timeout: 1s, rise: 2, fall: 2 }
    passive_health: { consecutive_failures: 2, base_ejection: 30s }
    slow_start: 4s
    retries: { min_retries_per_second: 100 }
`))
	load := startLoad(t, gw.URL("/"), 4)
	load.waitMore(t, 300)

	mark := gw.Stderr.Len()
	backends[1].Kill()
	out := waitTargetLog(t, gw, mark, victim, 10*time.Second, msgTargetEjected, msgTargetDown)
	// The active check must have seen it too, or it would never be
	// re-admitted by one.
	waitTargetLog(t, gw, mark, victim, 10*time.Second, msgTargetDown)
	// Give in-flight requests that picked the victim before its ejection
	// time to finish, then everything after must avoid it.
	load.waitMore(t, 100)
	accessMark := gw.Stdout.Len()
	load.waitMore(t, 300)
	for _, e := range accessSince(gw, accessMark) {
		if e.num("tries") != 1 || e.str("target") == victim {
			t.Fatalf("after the ejection (%s) a request still tried the dead target: %v", out, e)
		}
	}
	if f := load.Failures(); len(f) > 0 {
		t.Fatalf("%d requests failed at the client after the kill, want 0; first: %s", len(f), f[0])
	}

	// Back on the same address: re-admitted by the active check, then
	// ramped up by slow start (a smaller share at first).
	mark = gw.Stderr.Len()
	backends[1].Start()
	waitTargetLog(t, gw, mark, victim, 10*time.Second, msgTargetUp)
	accessMark = gw.Stdout.Len()
	load.waitMore(t, 300)
	early := shareOf(accessSince(gw, accessMark), victim)
	if early == 0 || early > 0.25 {
		t.Fatalf("right after re-admission the target got %.0f%% of requests; want some, but less than its full third (slow start)", early*100)
	}
	// After the slow-start window its share is back to about a third.
	if !waitUntil(20*time.Second, func() bool {
		m := gw.Stdout.Len()
		load.waitMore(t, 300)
		return shareOf(accessSince(gw, m), victim) > 0.28
	}) {
		t.Fatalf("the re-admitted target never got its full share back")
	}
	load.Stop()
	if f := load.Failures(); len(f) > 0 {
		t.Fatalf("%d requests failed at the client, want 0; first: %s", len(f), f[0])
	}
}

func shareOf(entries []entry, target string) float64 {
	n, hit := 0, 0
	for _, e := range entries {
		if e.str("target") == "" {
			continue
		}
		n++
		if e.str("target") == target {
			hit++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hit) / float64(n)
}

// Health state survives a reload that changes an unrelated route: a target
// marked down stays down (requests never try it) right after the reload.
func TestUpstreamHealthSurvivesReload(t *testing.T) {
	good := newRecorder(t, "good")
	dead := closedPort(t)
	cfg := func(extraRoute string) string {
		return upstreamConfig("round_robin", []string{good.Addr(), dead}, `    health_check: { path: /, interval: 100ms, timeout: 500ms, rise: 1, fall: 1 }
`) + extraRoute
	}
	gw := start(t, cfg(""))
	waitTargetLog(t, gw, 0, dead, 10*time.Second, msgTargetDown)

	gw.RewriteOK(strings.Replace(cfg(""), "routes:\n", "routes:\n  - match: { path: /other }\n    respond: { status: 204 }\n", 1), true)
	mark := gw.Stdout.Len()
	sendN(t, gw.URL("/"), 20, nil)
	for _, e := range accessSince(gw, mark) {
		if e.str("target") != good.Addr() || e.num("tries") != 1 {
			t.Fatalf("after the reload a request tried the down target (health state lost): %v", e)
		}
	}
}
