package acme

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/pebble"
)

func TestOnDemand(t *testing.T) {
	var asked atomic.Int32
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if !strings.HasPrefix(r.URL.Query().Get("domain"), "yes") {
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	t.Cleanup(ask.Close)
	tlsL := listen(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: 1, TLSPort: port(tlsL)})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m, err := New(config.ACME{
		CA: p.DirectoryURL(), CARoot: p.CARootFile(), Challenges: []string{ChallengeTLSALPN01},
		TLSALPNPort: port(tlsL), Storage: t.TempDir(),
		OnDemand: &config.OnDemand{Ask: ask.URL, Allow: []string{"*.allowed.test"}, Rate: "2/1h"},
	}, Options{Now: func() time.Time { return now }})
	serveTLS(t, tlsL, m.GetCertificate)
	startManager(t, m, err)
	roots := issuingRoots(t, p)

	steps := []struct {
		name   string
		server string
		ok     bool
		asks   bool // the ask endpoint is consulted
		order  bool // pebble gets an order
	}{
		{"approved by ask: issued at first handshake", "yes.ask.test", true, true, true},
		{"refused by ask: no certificate, no order", "no.ask.test", false, true, false},
		{"allow-list wildcard", "x.allowed.test", true, false, true},
		{"wildcard covers one label only", "a.b.allowed.test", false, true, false},
		{"approved, but the rate is spent", "yes2.ask.test", false, true, false},
		{"already issued: served without asking the CA", "yes.ask.test", true, false, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			orders, asks := p.Orders(), asked.Load()
			cert, err := handshake(tlsL.Addr().String(), st.server, roots)
			if (err == nil) != st.ok {
				t.Fatalf("handshake for %s: %v, want ok=%v", st.server, err, st.ok)
			}
			if err == nil {
				if verr := cert.VerifyHostname(st.server); verr != nil {
					t.Fatal(verr)
				}
			}
			wantOrders := orders
			if st.order {
				wantOrders++
			}
			if got := p.Orders(); got != wantOrders {
				t.Fatalf("pebble orders %d, want %d", got, wantOrders)
			}
			if got := asked.Load() > asks; got != st.asks {
				t.Fatalf("ask endpoint consulted: %v, want %v", got, st.asks)
			}
		})
	}
}

func TestApprover(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	a, err := newApprover(&config.OnDemand{Allow: []string{"exact.test", "*.wild.test"}, Rate: "1/1m"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"exact.test", true},
		{"EXACT.test", true},
		{"sub.exact.test", false},
		{"a.wild.test", true},
		{"wild.test", false},
		{"a.b.wild.test", false},
		{"evilwild.test", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := a.approve(t.Context(), tc.name)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNotApproved)) {
				t.Fatalf("approve(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
	if err := a.take("x"); err != nil {
		t.Fatal(err)
	}
	if err := a.take("x"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("second take within the minute: %v, want ErrRateLimited", err)
	}
	now = now.Add(time.Minute)
	if err := a.take("x"); err != nil {
		t.Fatalf("take after a minute: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		n   int
		per time.Duration
		ok  bool
	}{
		{"10/1m", 10, time.Minute, true},
		{"10/m", 10, time.Minute, true},
		{" 3 / 2h ", 3, 2 * time.Hour, true},
		{"0/1m", 0, 0, false},
		{"-1/1m", 0, 0, false},
		{"10", 0, 0, false},
		{"10/0s", 0, 0, false},
		{"10/banana", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, per, err := ParseRate(tc.in)
			if (err == nil) != tc.ok || n != tc.n || per != tc.per {
				t.Fatalf("ParseRate(%q) = %d, %v, %v", tc.in, n, per, err)
			}
		})
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10/1m", "1/s", "5/1h30m", "x/y", "9999999999/1ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, per, err := ParseRate(s)
		if err == nil && (n < 1 || per <= 0 || per/time.Duration(n) <= 0) {
			t.Fatalf("ParseRate(%q) accepted n=%d per=%v", s, n, per)
		}
	})
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.ACME
	}{
		{"wildcard domain", config.ACME{Domains: []string{"*.example.com"}}},
		{"unknown challenge", config.ACME{Challenges: []string{"dns-01"}}},
		{"missing ca_root", config.ACME{CARoot: "/nonexistent/root.pem"}},
		{"on-demand without allow or ask", config.ACME{OnDemand: &config.OnDemand{}}},
		{"bad ask URL", config.ACME{OnDemand: &config.OnDemand{Ask: "ftp://x"}}},
		{"bad rate", config.ACME{OnDemand: &config.OnDemand{Allow: []string{"a.test"}, Rate: "fast"}}},
		{"bad allow entry", config.ACME{OnDemand: &config.OnDemand{Allow: []string{"a.*.test"}}}},
		{"renew ratio", config.ACME{RenewWindowRatio: 1.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Storage = t.TempDir()
			if m, err := New(tc.cfg, Options{}); !errors.Is(err, ErrConfig) {
				if m != nil {
					m.Stop()
				}
				t.Fatalf("New = %v, want ErrConfig", err)
			}
		})
	}
}

// TestAskRateBounded: made-up SNI names cannot turn into unbounded calls to
// the ask endpoint; past the ask rate a name is just not approved.
func TestAskRateBounded(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(ask.Close)
	now := time.Unix(0, 0)
	a, err := newApprover(&config.OnDemand{Ask: ask.URL}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := a.approve(t.Context(), fmt.Sprintf("random-%d.example.test", i)); !errors.Is(err, ErrNotApproved) {
			t.Fatalf("name %d: %v, want ErrNotApproved", i, err)
		}
	}
	if n := calls.Load(); n != askBurst {
		t.Fatalf("200 made-up names at one instant made %d ask calls, want the burst of %d", n, askBurst)
	}
	now = now.Add(time.Second)
	_ = a.approve(t.Context(), "later.example.test")
	if n := calls.Load(); n != askBurst+1 {
		t.Fatalf("a second later: %d ask calls, want %d", n, askBurst+1)
	}
}
