package ip

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// serve runs one request from client through the middleware built from
// settings and reports the status and whether the backend was reached.
func serve(t *testing.T, settings any, client string) (int, bool, *httptest.ResponseRecorder) {
	t.Helper()
	mw, err := New(config.NewMiddlewareSpec(Name, settings), middleware.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var reached atomic.Bool
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Store(true) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	info := &observe.RequestInfo{ID: "rid-1"}
	if client != "" {
		info.ClientIP = netip.MustParseAddr(client)
	}
	r = r.WithContext(observe.WithInfo(r.Context(), info))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, reached.Load(), w
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	allowDeny := map[string]any{
		"allow": []any{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"},
		"deny":  []any{"10.9.0.0/16", "2001:db8:bad::/48"},
	}
	denyOnly := map[string]any{"deny": []any{"203.0.113.0/24", "::1"}}
	tests := []struct {
		name     string
		settings any
		client   string
		want     int
	}{
		{"allowed v4 cidr", allowDeny, "10.1.2.3", 200},
		{"allowed v4 single", allowDeny, "192.0.2.7", 200},
		{"v4 single neighbour", allowDeny, "192.0.2.8", 403},
		{"deny wins over allow", allowDeny, "10.9.1.1", 403},
		{"deny range edge high", allowDeny, "10.9.255.255", 403},
		{"just past deny range", allowDeny, "10.10.0.0", 200},
		{"not in allow", allowDeny, "172.16.0.1", 403},
		{"allowed v6", allowDeny, "2001:db8:1::5", 200},
		{"denied v6", allowDeny, "2001:db8:bad:1::5", 403},
		{"v6 outside", allowDeny, "2001:db9::1", 403},
		{"ipv4-mapped client", allowDeny, "::ffff:10.1.2.3", 200},
		{"ipv4-mapped denied", allowDeny, "::ffff:10.9.0.1", 403},
		{"v6 zone dropped", allowDeny, "2001:db8::1%eth0", 200},
		{"no client ip fails closed", allowDeny, "", 403},
		{"deny only, other passes", denyOnly, "198.51.100.1", 200},
		{"deny only, denied", denyOnly, "203.0.113.9", 403},
		{"deny only, v6 loopback", denyOnly, "::1", 403},
		{"deny only, v4 loopback passes", denyOnly, "127.0.0.1", 200},
		{"deny only, no ip fails closed", denyOnly, "", 403},
		{"allow everything v4", map[string]any{"allow": "0.0.0.0/0"}, "255.255.255.255", 200},
		{"allow v4 all, v6 refused", map[string]any{"allow": "0.0.0.0/0"}, "2001:db8::1", 403},
		{"mapped entry", map[string]any{"allow": "::ffff:10.0.0.0/104"}, "10.200.0.1", 200},
		{"mapped entry, mapped client", map[string]any{"allow": "::ffff:10.0.0.0/104"}, "::ffff:10.200.0.1", 200},
		{"host bits masked", map[string]any{"allow": "10.1.2.3/8"}, "10.255.0.1", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, reached, w := serve(t, tt.settings, tt.client)
			if code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			if reached != (tt.want == 200) {
				t.Errorf("backend reached = %v with status %d", reached, code)
			}
			if tt.want == 403 {
				if got := w.Body.String(); got != "403 Forbidden\nrequest-id: rid-1\n" {
					t.Errorf("body %q", got)
				}
				if w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
					t.Errorf("headers %v", w.Header())
				}
			}
		})
	}
}

// Forwarding headers are never read by the middleware: only the runtime
// decides (trusted proxies) what ClientIP is.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	mw, err := New(config.NewMiddlewareSpec(Name, map[string]any{"allow": "10.0.0.0/8"}), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header map[string]string
		remote string
		info   bool
	}{
		{"spoofed xff", map[string]string{"X-Forwarded-For": "10.0.0.1"}, "198.51.100.1:1234", true},
		{"spoofed forwarded", map[string]string{"Forwarded": "for=10.0.0.1"}, "198.51.100.1:1234", true},
		{"spoofed x-real-ip", map[string]string{"X-Real-IP": "10.0.0.1"}, "198.51.100.1:1234", true},
		{"no info, xff ignored", map[string]string{"X-Forwarded-For": "10.0.0.1"}, "198.51.100.1:1234", false},
		{"no info, garbage remote", nil, "not-an-address", false},
		{"no info, zone remote", nil, "[fe80::1%25eth0]:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached atomic.Bool
			h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) }))
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
			r.RemoteAddr = tt.remote
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if tt.info {
				ap := netip.MustParseAddrPort(tt.remote)
				r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ClientIP: ap.Addr()}))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusForbidden || reached.Load() {
				t.Errorf("status %d reached %v, want 403 and no backend", w.Code, reached.Load())
			}
			if w.Header().Get("Connection") != "close" {
				t.Errorf("a refused request with an unread body should close the connection")
			}
		})
	}
}

// Without RequestInfo (outside the runtime) the TCP peer decides.
func TestRemoteAddrFallback(t *testing.T) {
	t.Parallel()
	mw, err := New(config.NewMiddlewareSpec(Name, map[string]any{"allow": "192.0.2.0/24"}), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil) // RemoteAddr 192.0.2.1:1234
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("status %d, want 200", w.Code)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings any
		want     string
	}{
		{"empty", map[string]any{}, "nothing to do"},
		{"no settings", nil, "nothing to do"},
		{"garbage", map[string]any{"allow": []any{"10.0.0.0/8", "ten"}}, "allow[1]"},
		{"bad prefix len", map[string]any{"deny": "10.0.0.0/33"}, "deny[0]"},
		{"zone", map[string]any{"allow": "fe80::1%eth0"}, "zones"},
		{"zone in cidr", map[string]any{"allow": "fe80::%eth0/64"}, "zones"},
		{"short mapped", map[string]any{"allow": "::ffff:0:0/95"}, "at least /96"},
		{"hostname", map[string]any{"allow": "example.com"}, "not an IP"},
		{"unknown key", map[string]any{"allowed": "10.0.0.0/8"}, "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(config.NewMiddlewareSpec(Name, tt.settings), middleware.Env{})
			if err == nil {
				t.Fatal("New succeeded")
			}
			var list config.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not a config.ErrorList", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	var ps []netip.Prefix
	for _, s := range []string{"10.0.0.0/9", "10.128.0.0/9", "10.0.0.0/24", "255.255.255.255/32", "255.255.255.0/24", "::/0", "2001:db8::/32"} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	s := NewSet(ps)
	if len(s.v4) != 2 || s.v4[0].hi != netip.MustParseAddr("10.255.255.255") {
		t.Errorf("v4 spans %v, want adjacent /9s merged and the top /24 alone", s.v4)
	}
	if len(s.v6) != 1 {
		t.Errorf("v6 spans %v, want one", s.v6)
	}
	if !s.Contains(netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) {
		t.Errorf("::/0 does not contain the last address")
	}
}

// FuzzParseEntry: whatever ParseEntry accepts, the set built from it agrees
// with netip.Prefix.Contains (the oracle) on the prefix's own edges.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:10.0.0.0/104", "::/0", "0.0.0.0/0", "fe80::1%eth0", "1.2.3.4/33", " 10.0.0.1 ", "::ffff:1.2.3.4"} {
		f.Add(s, "10.1.2.3")
	}
	f.Fuzz(func(t *testing.T, entry, client string) {
		p, err := ParseEntry(entry)
		if err != nil {
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("error %v does not wrap ErrBadEntry", err)
			}
			return
		}
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" || p != p.Masked() {
			t.Fatalf("ParseEntry(%q) = %v, not normalised", entry, p)
		}
		s := NewSet([]netip.Prefix{p})
		probes := []netip.Addr{p.Addr(), lastAddr(p), p.Addr().Prev(), lastAddr(p).Next()}
		if a, err := netip.ParseAddr(client); err == nil {
			probes = append(probes, Normalize(a))
		}
		for _, a := range probes {
			if !a.IsValid() {
				continue
			}
			if got, want := s.Contains(a), p.Contains(a); got != want {
				t.Fatalf("prefix %v, addr %v: Contains = %v, netip says %v", p, a, got, want)
			}
		}
	})
}

func BenchmarkAllowed(b *testing.B) {
	cfg := Config{Deny: []string{"10.9.0.0/16"}}
	for i := range 1000 {
		cfg.Allow = append(cfg.Allow, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}).String()+"/24")
		cfg.Allow = append(cfg.Allow, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}).String()+"/48")
	}
	rules, err := Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	clients := []netip.Addr{netip.MustParseAddr("10.3.200.4"), netip.MustParseAddr("2001:db8:3e7::1"), netip.MustParseAddr("::ffff:172.16.0.1")}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range clients {
			rules.Allowed(c)
		}
	}
}
