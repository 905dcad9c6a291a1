package ratelimit

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// TestExactCounts checks, at a fixed injected clock, how many requests
// each window allows and the refusal's headers, step by step.
func TestExactCounts(t *testing.T) {
	t.Parallel()
	type step struct {
		advance    time.Duration
		n          int    // requests sent
		allowed    int    // of which allowed
		retryAfter string // of the last refusal ("" when none)
		lastLimit  string // RateLimit of the last response
	}
	for _, tc := range []struct {
		name     string
		settings any
		policy   string
		steps    []step
	}{
		{
			name:     "rate alone is a burst of the count",
			settings: map[string]any{"rate": "10/m"},
			policy:   `"default";q=10;w=60`,
			steps: []step{
				{n: 12, allowed: 10, retryAfter: "6", lastLimit: `"default";r=0;t=6`},
				{advance: 5 * time.Second, n: 1, allowed: 0, retryAfter: "1", lastLimit: `"default";r=0;t=1`},
				{advance: time.Second, n: 2, allowed: 1, retryAfter: "6", lastLimit: `"default";r=0;t=6`},
				{advance: 60 * time.Second, n: 11, allowed: 10, retryAfter: "6"},
			},
		},
		{
			name:     "burst smaller than the count",
			settings: map[string]any{"rate": "100/m", "burst": 20, "name": "api"},
			policy:   `"api";q=100;w=60;gatehouse-burst=20`,
			steps: []step{
				{n: 25, allowed: 20, retryAfter: "1", lastLimit: `"api";r=0;t=1`},
				{advance: 600 * time.Millisecond, n: 2, allowed: 1, retryAfter: "1"},
				{advance: 6 * time.Second, n: 11, allowed: 10, retryAfter: "1"},
			},
		},
		{
			name:     "per second",
			settings: "3/s",
			policy:   `"default";q=3;w=1`,
			steps: []step{
				{n: 1, allowed: 1, lastLimit: `"default";r=2;t=1`},
				{n: 3, allowed: 2, retryAfter: "1"},
				{advance: time.Second, n: 4, allowed: 3, retryAfter: "1"},
			},
		},
		{
			name:     "hourly",
			settings: map[string]any{"rate": "10/h", "burst": 2},
			policy:   `"default";q=10;w=3600;gatehouse-burst=2`,
			steps: []step{
				{n: 3, allowed: 2, retryAfter: "360", lastLimit: `"default";r=0;t=360`},
				{advance: 359 * time.Second, n: 1, allowed: 0, retryAfter: "1"},
				{advance: time.Second, n: 1, allowed: 1, lastLimit: `"default";r=0;t=360`},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			be := &backend{}
			h := build(t, Name, tc.settings, middleware.Env{Now: clk.Now}, be)
			for i, st := range tc.steps {
				clk.Advance(st.advance)
				before := be.n.Load()
				allowed, retry, last := 0, "", ""
				for range st.n {
					w := serve(h, request("192.0.2.1"))
					res := w.Result()
					if got := res.Header.Get("RateLimit-Policy"); got != tc.policy {
						t.Fatalf("step %d: RateLimit-Policy %q, want %q", i, got, tc.policy)
					}
					last = res.Header.Get("RateLimit")
					switch res.StatusCode {
					case http.StatusOK:
						allowed++
					case http.StatusTooManyRequests:
						retry = res.Header.Get("Retry-After")
						if res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(w.Body.String(), "rid-1") {
							t.Fatalf("step %d: refusal headers %v body %q", i, res.Header, w.Body)
						}
					default:
						t.Fatalf("step %d: status %d", i, res.StatusCode)
					}
				}
				if allowed != st.allowed || be.n.Load()-before != int64(st.allowed) {
					t.Fatalf("step %d: allowed %d (backend saw %d), want %d", i, allowed, be.n.Load()-before, st.allowed)
				}
				if retry != st.retryAfter {
					t.Errorf("step %d: Retry-After %q, want %q", i, retry, st.retryAfter)
				}
				if st.lastLimit != "" && last != st.lastLimit {
					t.Errorf("step %d: RateLimit %q, want %q", i, last, st.lastLimit)
				}
			}
		})
	}
}

func TestRetryAfterMath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {999 * time.Millisecond, 1},
		{time.Second, 1}, {time.Second + 1, 2}, {6 * time.Second, 6}, {time.Hour, 3600},
	} {
		if got := ceilSeconds(tc.d); got != tc.want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	// gcra: refusal RetryAfter is exactly the time until one unit is back.
	iv := 600 * time.Millisecond
	now := int64(1e18)
	tat := int64(0)
	for range 20 {
		var d Decision
		tat, d = gcra(tat, now, iv, 20)
		if !d.Allowed {
			t.Fatal("refused within burst")
		}
	}
	_, d := gcra(tat, now, iv, 20)
	if d.Allowed || d.RetryAfter != iv || d.ResetAfter != 20*iv {
		t.Fatalf("after burst: %+v", d)
	}
	_, d = gcra(tat, now+int64(iv)-1, iv, 20)
	if d.Allowed || d.RetryAfter != 1 {
		t.Fatalf("1ns early: %+v", d)
	}
	_, d = gcra(tat, now+int64(iv), iv, 20)
	if !d.Allowed || d.Remaining != 0 {
		t.Fatalf("on time: %+v", d)
	}
}

func TestHeadersOff(t *testing.T) {
	t.Parallel()
	h := build(t, Name, map[string]any{"rate": "1/m", "headers": false}, middleware.Env{Now: newClock().Now}, &backend{})
	w := serve(h, request("192.0.2.1"))
	if w.Code != 200 || w.Header().Get("RateLimit") != "" || w.Header().Get("RateLimit-Policy") != "" {
		t.Fatalf("allowed response: %d %v", w.Code, w.Header())
	}
	w = serve(h, request("192.0.2.1"))
	if w.Code != 429 || w.Header().Get("RateLimit") == "" || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("refusal must carry the fields anyway: %d %v", w.Code, w.Header())
	}
}

func TestOnMissingKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy string
		// statuses of: 2 requests without the header from IP A, then 1
		// without it from IP B.
		want [3]int
	}{
		{"", [3]int{200, 429, 200}},          // client_ip: per address
		{"client_ip", [3]int{200, 429, 200}}, // same
		{"shared", [3]int{200, 429, 429}},    // one bucket for all
		{"skip", [3]int{200, 200, 200}},      // not limited
		{"refuse", [3]int{403, 403, 403}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			be := &backend{}
			h := build(t, Name, map[string]any{"rate": "1/h", "key": []string{"header:X-Api-Key"}, "on_missing_key": tc.policy},
				middleware.Env{Now: newClock().Now}, be)
			got := [3]int{
				serve(h, request("192.0.2.1")).Code,
				serve(h, request("192.0.2.1")).Code,
				serve(h, request("192.0.2.2")).Code,
			}
			if got != tc.want {
				t.Fatalf("statuses %v, want %v", got, tc.want)
			}
			// A present key is limited by its value, whatever the address.
			if c := serve(h, request("192.0.2.9", "X-Api-Key", "k1")).Code; c != 200 {
				t.Fatalf("first request with a key: %d", c)
			}
			if c := serve(h, request("192.0.2.8", "X-Api-Key", "k1")).Code; c != 429 {
				t.Fatalf("second request with the same key from elsewhere: %d", c)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		settings any
		want     string
	}{
		{"no rate", map[string]any{"burst": 3}, "invalid rate"},
		{"bad rate", map[string]any{"rate": "10/5m"}, "unit"},
		{"too fast", map[string]any{"rate": "2000000/s"}, "at most"},
		{"negative burst", map[string]any{"rate": "1/s", "burst": -1}, "burst"},
		{"bad key", map[string]any{"rate": "1/s", "key": []string{"cookie:x"}}, "invalid key source"},
		{"bad header", map[string]any{"rate": "1/s", "key": "header:bad name"}, "invalid key source"},
		{"bad template", map[string]any{"rate": "1/s", "key": "{nope}"}, "invalid key source"},
		{"bad v6 prefix", map[string]any{"rate": "1/s", "ipv6_prefix": 129}, "ipv6_prefix"},
		{"bad v4 prefix", map[string]any{"rate": "1/s", "ipv4_prefix": -1}, "ipv4_prefix"},
		{"bad missing", map[string]any{"rate": "1/s", "on_missing_key": "401"}, "on_missing_key"},
		{"bad max keys", map[string]any{"rate": "1/s", "max_keys": -5}, "max_keys"},
		{"bad name", map[string]any{"rate": "1/s", "name": `a"b`}, "name"},
		{"unknown field", map[string]any{"rate": "1/s", "brust": 3}, "brust"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(config.NewMiddlewareSpec(Name, tc.settings), middleware.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestStateSurvivesReload: a rebuilt limiter with the same identity keeps
// its buckets; a changed setting starts fresh.
func TestStateSurvivesReload(t *testing.T) {
	t.Parallel()
	st := &memState{}
	clk := newClock()
	env := middleware.Env{Now: clk.Now, State: st}
	settings := map[string]any{"rate": "2/h"}
	h := build(t, Name, settings, env, &backend{})
	serve(h, request("192.0.2.1"))
	serve(h, request("192.0.2.1"))
	h = build(t, Name, settings, env, &backend{}) // reload, same identity
	if c := serve(h, request("192.0.2.1")).Code; c != 429 {
		t.Fatalf("after an unchanged reload: %d, want 429 (buckets kept)", c)
	}
	h = build(t, Name, map[string]any{"rate": "3/h"}, env, &backend{}) // changed
	if c := serve(h, request("192.0.2.1")).Code; c != 200 {
		t.Fatalf("after a changed reload: %d, want 200 (fresh buckets)", c)
	}
}
