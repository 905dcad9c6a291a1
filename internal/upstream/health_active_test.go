package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// hcBackend is a real backend whose health the test controls.
type hcBackend struct {
	srv    *httptest.Server
	status atomic.Int32
	hits   atomic.Int64
}

func newHCBackend(t *testing.T) *hcBackend {
	b := &hcBackend{}
	b.status.Store(200)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, strings.Repeat("x", maxCheckBody)+"MARK")
		case "/host":
			if r.Host != "svc.internal" || r.Method != http.MethodHead {
				w.WriteHeader(400)
			}
		case "/redirect":
			http.Redirect(w, r, "/", http.StatusFound)
		default:
			w.WriteHeader(int(b.status.Load()))
			io.WriteString(w, "all good")
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hcBackend) addr() string { return b.srv.Listener.Addr().String() }

func TestProbeHTTP(t *testing.T) {
	t.Parallel()
	b := newHCBackend(t)
	for _, tc := range []struct {
		name   string
		check  config.HealthCheck
		status int32
		ok     bool
	}{
		{"defaults", config.HealthCheck{}, 200, true},
		{"5xx", config.HealthCheck{}, 503, false},
		{"3xx in default range", config.HealthCheck{Path: "/redirect"}, 200, true},
		{"3xx outside", config.HealthCheck{Path: "/redirect", Status: "200"}, 200, false},
		{"listed status", config.HealthCheck{Status: "200-299,503"}, 503, true},
		{"body substring", config.HealthCheck{Body: "good"}, 200, true},
		{"body missing", config.HealthCheck{Body: "bad"}, 200, false},
		{"body regexp", config.HealthCheck{Body: `~^all\s+go`}, 200, true},
		{"body regexp missing", config.HealthCheck{Body: `~^good`}, 200, false},
		{"body beyond 64 KiB", config.HealthCheck{Path: "/big", Body: "MARK"}, 200, false},
		{"method and host", config.HealthCheck{Path: "/host", Method: "HEAD", Host: "svc.internal"}, 200, true},
		{"wrong host", config.HealthCheck{Path: "/host", Method: "HEAD"}, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hc := tc.check
			p := hcPool(t, 0, config.Upstream{Targets: []string{b.addr()}, HealthCheck: &hc}, PoolOptions{})
			// Routing by path lets the cases share one backend; status
			// cases use paths only they use.
			if tc.status != 200 {
				bb := newHCBackend(t)
				bb.status.Store(tc.status)
				p = hcPool(t, 0, config.Upstream{Targets: []string{bb.addr()}, HealthCheck: &hc}, PoolOptions{})
			}
			err := p.health.probe(context.Background(), p, p.Targets()[0])
			if (err == nil) != tc.ok {
				t.Fatalf("probe: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errCheckFailed) {
				t.Fatalf("err %v does not wrap errCheckFailed", err)
			}
		})
	}
}

func TestProbeTCP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hc := &config.HealthCheck{Type: config.HealthTCP, Timeout: config.Duration(2 * time.Second)}
	p := hcPool(t, 0, config.Upstream{Targets: []string{addr}, HealthCheck: hc}, PoolOptions{})
	if err := p.health.probe(context.Background(), p, p.Targets()[0]); err != nil {
		t.Fatalf("open port: %v", err)
	}
	ln.Close()
	if err := p.health.probe(context.Background(), p, p.Targets()[0]); err == nil {
		t.Fatal("closed port passes")
	}
}

func TestRecordThresholds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		seq  string // p = pass, f = fail
		down string // state after each result: u or d
	}{
		{"fall 3", "fffff", "uuddd"},
		{"failures not in a row", "ffpffpff", "uuuuuuuu"},
		{"rise 2", "fffppp", "uudduu"},
		{"rise interrupted", "fffpfpp", "uuddddu"},
		{"up again and down", "fffppfff", "uudduuud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &hcLog{}
			p := hcPool(t, 1, config.Upstream{HealthCheck: &config.HealthCheck{Rise: 2, Fall: 3}}, PoolOptions{Logger: slogNew(log)})
			tg := p.Targets()[0]
			var got strings.Builder
			for _, r := range tc.seq {
				var err error
				if r == 'f' {
					err = errCheckFailed
				}
				p.health.record(tg, err)
				if tg.Available(time.Now()) {
					got.WriteByte('u')
				} else {
					got.WriteByte('d')
				}
			}
			if got.String() != tc.down {
				t.Fatalf("states %s, want %s", got.String(), tc.down)
			}
			downs := strings.Count(tc.down, "ud") + strings.Count(tc.down[:1], "d")
			if n := log.count("upstream target down 127.0.0.1:9100"); n != downs {
				t.Fatalf("%d down logs, want %d", n, downs)
			}
		})
	}
}

func TestActiveChecks(t *testing.T) {
	t.Parallel()
	a, b := newHCBackend(t), newHCBackend(t)
	log := &hcLog{}
	p := hcPool(t, 0, config.Upstream{
		Targets:     []string{a.addr(), b.addr()},
		HealthCheck: &config.HealthCheck{Interval: config.Duration(20 * time.Millisecond), Timeout: config.Duration(time.Second), Rise: 2, Fall: 2},
		SlowStart:   config.Duration(time.Hour),
	}, PoolOptions{Logger: slogNew(log)})
	p.Start()
	ta := p.Targets()[0]
	hcEventually(t, "first checks", func() bool { return a.hits.Load() > 0 && b.hits.Load() > 0 })

	a.status.Store(500)
	hcEventually(t, "a down", func() bool { return !p.States()[0].Healthy })
	for range 20 {
		if tg, _ := p.Pick(&PickContext{}); tg == ta {
			t.Fatal("picked the down target")
		}
	}
	a.status.Store(200)
	hcEventually(t, "a up", func() bool { return p.States()[0].Healthy })
	if st := p.States()[0]; st.SlowStart >= 0.2 {
		t.Fatalf("returned target not in slow start: %v", st.SlowStart)
	}
	if d, u := log.count("upstream target down "+a.addr()), log.count("upstream target up "+a.addr()); d != 1 || u != 1 {
		t.Fatalf("logged down %d, up %d times; want once each", d, u)
	}

	// A dead listener is seen: checks use a fresh connection each time.
	b.srv.Close()
	hcEventually(t, "b down", func() bool { return !p.States()[1].Healthy })
}

func TestActiveChecksFollowTargets(t *testing.T) {
	t.Parallel()
	a, b := newHCBackend(t), newHCBackend(t)
	p := hcPool(t, 0, config.Upstream{
		Targets:     []string{a.addr()},
		HealthCheck: &config.HealthCheck{Type: config.HealthHTTP, Interval: config.Duration(20 * time.Millisecond)},
	}, PoolOptions{})
	p.Start()
	hcEventually(t, "a checked", func() bool { return a.hits.Load() > 0 })
	tb, err := ParseTarget(b.addr(), 1)
	if err != nil {
		t.Fatal(err)
	}
	p.setTargets([]*Target{tb}) // as a DNS re-resolution does
	hcEventually(t, "b checked", func() bool { return b.hits.Load() > 0 })
	aHits := a.hits.Load()
	start := b.hits.Load()
	hcEventually(t, "b checked more", func() bool { return b.hits.Load() >= start+5 })
	if n := a.hits.Load(); n > aHits+1 {
		t.Fatalf("removed target still checked: %d → %d", aHits, n)
	}
	p.Close() // returns once every checker goroutine ended
}

func TestNewHealthErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  config.Upstream
	}{
		{"type", config.Upstream{HealthCheck: &config.HealthCheck{Type: "udp"}}},
		{"status", config.Upstream{HealthCheck: &config.HealthCheck{Status: "200-99"}}},
		{"regexp", config.Upstream{HealthCheck: &config.HealthCheck{Body: "~("}}},
		{"interval", config.Upstream{HealthCheck: &config.HealthCheck{Interval: -1}}},
		{"passive", config.Upstream{Passive: config.PassiveHealth{ErrorRate: 101}}},
		{"breaker", config.Upstream{CircuitBreaker: config.CircuitBreaker{MaxPending: -1}}},
		{"slow start", config.Upstream{SlowStart: -1}},
		{"budget", config.Upstream{Retries: config.Retries{BudgetPercent: ptrInt(-1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewPool("x", tc.cfg, PoolOptions{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
