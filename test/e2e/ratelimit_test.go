package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// ratelimitConfig is one Gatehouse instance limiting /limited to 100 per
// hour per client (a long window: timing cannot matter) in a Redis shared
// with the other instance.
func ratelimitConfig(redisAddr, backend string) string {
	return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
cluster:
  redis: { address: "%s", prefix: "e2e-rl:", timeout: 1s }
routes:
  - match: { path: /limited }
    middleware:
      - ratelimit: { rate: 100/h, key: [client_ip], name: e2e }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, redisAddr, backend)
}

// TestRateLimitSharedAcrossInstances: two Gatehouse processes sharing one
// redis-server enforce one global limit, 100 allowed in all, not 200; the
// 429 carries Retry-After and the RateLimit fields, and refused requests
// never reach the backend.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	srv := redisserver.Start(t)
	be := newRecorder(t, "be")
	a := start(t, ratelimitConfig(srv.Addr(), be.Addr()))
	b := start(t, ratelimitConfig(srv.Addr(), be.Addr()))
	c := newClient(t)

	allowed, refused := 0, 0
	var last http.Header
	for i := range 250 {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		status, _, h := get(t, c, inst.URL("/limited"), "")
		switch status {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
			refused++
			last = h
		default:
			t.Fatalf("request %d: status %d", i, status)
		}
	}
	if allowed != 100 || refused != 150 {
		t.Fatalf("allowed %d, refused %d across two instances; want 100 and 150", allowed, refused)
	}
	if n := be.Count(); n != 100 {
		t.Fatalf("backend saw %d requests, want 100 (refusals must not reach it)", n)
	}
	// 100/h: one request comes back every 36s.
	ra, err := strconv.Atoi(last.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 36 {
		t.Errorf("Retry-After %q, want 1..36 seconds", last.Get("Retry-After"))
	}
	if got := last.Get("RateLimit-Policy"); got != `"e2e";q=100;w=3600` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	if got := last.Get("RateLimit"); !strings.HasPrefix(got, `"e2e";r=0;t=`) {
		t.Errorf("RateLimit %q", got)
	}
	if got := last.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
}
