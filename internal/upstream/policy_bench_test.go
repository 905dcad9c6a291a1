package upstream

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// pickCase is one policy set up over four targets, with a request context
// that exercises its usual path.
type pickCase struct {
	name   string
	policy string
	up     config.Upstream
	// equal gives all four targets weight 1 (default: 1, 2, 1, 3).
	equal bool
	pc    func(t testing.TB, p Policy, targets []*Target) *PickContext
}

func plainPC(testing.TB, Policy, []*Target) *PickContext {
	return &PickContext{ClientIP: netip.MustParseAddr("192.0.2.1"), Path: "/v1/items"}
}

var pickCases = []pickCase{
	{name: "RoundRobin", policy: config.PolicyRoundRobin, pc: plainPC},
	{name: "Weighted", policy: config.PolicyWeighted, pc: plainPC},
	{name: "Random", policy: config.PolicyRandom, pc: plainPC},
	{name: "LeastConn", policy: config.PolicyLeastConn, pc: plainPC},
	{name: "P2CEWMA", policy: config.PolicyP2CEWMA, pc: plainPC},
	{name: "First", policy: config.PolicyFirst, pc: plainPC},
	{name: "HashClientIP", policy: config.PolicyHash, pc: plainPC,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "client_ip"}}},
	{name: "HashClientIPEqual", policy: config.PolicyHash, pc: plainPC, equal: true,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "client_ip"}}},
	{name: "HashHeader", policy: config.PolicyHash,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "header:X-Tenant"}},
		pc: func(testing.TB, Policy, []*Target) *PickContext {
			return &PickContext{Header: http.Header{"X-Tenant": {"acme-corporation"}}}
		}},
	{name: "HashCookie", policy: config.PolicyHash,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "cookie:session"}},
		pc: func(testing.TB, Policy, []*Target) *PickContext {
			return &PickContext{Header: http.Header{"Cookie": {"theme=dark; session=7f3a9c0e21; lang=en"}}}
		}},
	{name: "HashPlaceholderOne", policy: config.PolicyHash,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "{header.X-Tenant}"}},
		pc: func(testing.TB, Policy, []*Target) *PickContext {
			r := httptest.NewRequest("GET", "/v1/items", nil)
			r.Header.Set("X-Tenant", "acme")
			return &PickContext{Request: r}
		}},
	{name: "HashMissingKey", policy: config.PolicyHash,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "header:X-Tenant"}},
		pc: func(testing.TB, Policy, []*Target) *PickContext { return &PickContext{Header: http.Header{}} }},
	{name: "CookieSticky", policy: config.PolicyCookie,
		up: config.Upstream{Sticky: &config.StickyCookie{Secret: testSecret}},
		pc: func(t testing.TB, p Policy, targets []*Target) *PickContext {
			pc := &PickContext{}
			p.Pick(targets, pc)
			return &PickContext{Header: cookieFrom(pc.SetCookie)}
		}},
	{name: "CookieNew", policy: config.PolicyCookie,
		up: config.Upstream{Sticky: &config.StickyCookie{Secret: testSecret}},
		pc: func(testing.TB, Policy, []*Target) *PickContext { return &PickContext{Header: http.Header{}} }},
}

// setupPick builds c's policy over four targets with latency samples and
// a few requests in flight, as in a running pool.
func setupPick(t testing.TB, c pickCase) (Policy, []*Target, *PickContext) {
	targets := weightedTargets(t, 1, 2, 1, 3)
	if c.equal {
		targets = weightedTargets(t, 1, 1, 1, 1)
	}
	for i, tg := range targets {
		tg.ObserveLatency(time.Duration(5+i)*time.Millisecond, sec)
		for range i % 2 {
			tg.Begin()
		}
	}
	p := newTestPolicy(t, c.policy, PolicyOptions{Upstream: c.up, Targets: targets})
	return p, targets, c.pc(t, p, targets)
}

// TestPolicyPickAllocs proves that Pick allocates nothing, for every policy and
// key kind (placeholder expressions of more than one part excepted).
// Not parallel: testing.AllocsPerRun forbids it.
func TestPolicyPickAllocs(t *testing.T) {
	for _, c := range pickCases {
		t.Run(c.name, func(t *testing.T) {
			p, targets, pc := setupPick(t, c)
			if n := testing.AllocsPerRun(500, func() { p.Pick(targets, pc) }); n != 0 {
				t.Errorf("Pick allocates %v times per call, want 0", n)
			}
		})
	}
	t.Run("ObserveLatency", func(t *testing.T) {
		tg := testTargets(t, 1)[0]
		now := sec
		if n := testing.AllocsPerRun(500, func() { now++; tg.ObserveLatency(time.Millisecond, now); tg.Latency(now) }); n != 0 {
			t.Errorf("ObserveLatency allocates %v times per call, want 0", n)
		}
	})
}

func benchPick(b *testing.B, name string) {
	for _, c := range pickCases {
		if c.name != name {
			continue
		}
		p, targets, pc := setupPick(b, c)
		b.ReportAllocs()
		for b.Loop() {
			p.Pick(targets, pc)
		}
		return
	}
	b.Fatalf("no pick case %q", name)
}

func BenchmarkPickRoundRobin(b *testing.B)         { benchPick(b, "RoundRobin") }
func BenchmarkPickWeighted(b *testing.B)           { benchPick(b, "Weighted") }
func BenchmarkPickRandom(b *testing.B)             { benchPick(b, "Random") }
func BenchmarkPickLeastConn(b *testing.B)          { benchPick(b, "LeastConn") }
func BenchmarkPickP2CEWMA(b *testing.B)            { benchPick(b, "P2CEWMA") }
func BenchmarkPickFirst(b *testing.B)              { benchPick(b, "First") }
func BenchmarkPickHashClientIP(b *testing.B)       { benchPick(b, "HashClientIP") }
func BenchmarkPickHashClientIPEqual(b *testing.B)  { benchPick(b, "HashClientIPEqual") }
func BenchmarkPickHashHeader(b *testing.B)         { benchPick(b, "HashHeader") }
func BenchmarkPickHashCookie(b *testing.B)         { benchPick(b, "HashCookie") }
func BenchmarkPickHashPlaceholderOne(b *testing.B) { benchPick(b, "HashPlaceholderOne") }
func BenchmarkPickHashMissingKey(b *testing.B)     { benchPick(b, "HashMissingKey") }
func BenchmarkPickCookieSticky(b *testing.B)       { benchPick(b, "CookieSticky") }
func BenchmarkPickCookieNew(b *testing.B)          { benchPick(b, "CookieNew") }

// BenchmarkPickHashPlaceholder is a two-part expression: its rendering
// allocates once per request (documented).
func BenchmarkPickHashPlaceholder(b *testing.B) {
	c := pickCase{name: "HashPlaceholder", policy: config.PolicyHash,
		up: config.Upstream{Hash: &config.HashPolicy{Key: "{header.X-Tenant}/{query.model}"}},
		pc: func(testing.TB, Policy, []*Target) *PickContext {
			r := httptest.NewRequest("GET", "/v1/items?model=m1", nil)
			r.Header.Set("X-Tenant", "acme")
			return &PickContext{Request: r}
		}}
	p, targets, pc := setupPick(b, c)
	b.ReportAllocs()
	for b.Loop() {
		p.Pick(targets, pc)
	}
}
