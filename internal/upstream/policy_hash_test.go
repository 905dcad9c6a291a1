package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func hashPolicy(t testing.TB, key string, targets []*Target) Policy {
	t.Helper()
	return newTestPolicy(t, "hash", PolicyOptions{
		Upstream: config.Upstream{Policy: "hash", Hash: &config.HashPolicy{Key: key, Fallback: "first"}},
		Targets:  targets,
	})
}

// keyed returns a PickContext whose path is key number i.
func keyed(i int) *PickContext { return &PickContext{Path: fmt.Sprintf("/k/%d", i)} }

// reindexed returns fresh targets for the given ports, indexed in order,
// as a pool rebuilt after a reload would have them.
func reindexed(t testing.TB, ports ...int) []*Target {
	t.Helper()
	ts := make([]*Target, len(ports))
	for i, port := range ports {
		tg, err := ParseTarget(fmt.Sprintf("127.0.0.1:%d", port), i)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tg
	}
	return ts
}

func TestHashConsistency(t *testing.T) {
	t.Parallel()
	const keys = 10000
	ports := make([]int, 10)
	for i := range ports {
		ports[i] = 9000 + i
	}
	before := reindexed(t, ports...)
	pBefore := hashPolicy(t, "path", before)
	owner := make([]string, keys)
	perTarget := make(map[string]int)
	for i := range keys {
		owner[i] = pBefore.Pick(before, keyed(i)).String()
		perTarget[owner[i]]++
	}
	for _, tg := range before {
		if c := perTarget[tg.String()]; c < 800 || c > 1200 {
			t.Errorf("%s owns %d of %d keys, want about 1000", tg, c, keys)
		}
	}

	t.Run("remove", func(t *testing.T) {
		// The pool rebuilt without target 3: the others are re-indexed.
		removed := "127.0.0.1:9003"
		after := reindexed(t, append(append([]int{}, ports[:3]...), ports[4:]...)...)
		p := hashPolicy(t, "path", after)
		moved := 0
		for i := range keys {
			if got := p.Pick(after, keyed(i)).String(); got != owner[i] {
				moved++
				if owner[i] != removed {
					t.Fatalf("key %d moved from %s to %s, though %s is still there", i, owner[i], got, owner[i])
				}
			}
		}
		if moved > keys*12/100 {
			t.Errorf("%d of %d keys moved, want ≤ 12%%", moved, keys)
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		// Same policy, target 3 filtered out by the pool.
		list := append(append([]*Target{}, before[:3]...), before[4:]...)
		for i := range keys {
			if got := pBefore.Pick(list, keyed(i)).String(); got != owner[i] && owner[i] != before[3].String() {
				t.Fatalf("key %d moved from %s to %s", i, owner[i], got)
			}
		}
	})
	t.Run("add", func(t *testing.T) {
		after := reindexed(t, append(append([]int{}, ports...), 9010)...)
		p := hashPolicy(t, "path", after)
		moved := 0
		for i := range keys {
			if got := p.Pick(after, keyed(i)).String(); got != owner[i] {
				moved++
				if got != "127.0.0.1:9010" {
					t.Fatalf("key %d moved from %s to %s, not to the new target", i, owner[i], got)
				}
			}
		}
		if moved > keys*12/100 {
			t.Errorf("%d of %d keys moved, want ≤ 12%%", moved, keys)
		}
	})
}

func TestHashWeights(t *testing.T) {
	t.Parallel()
	targets := weightedTargets(t, 1, 3, 1, 5)
	p := hashPolicy(t, "path", targets)
	const keys = 20000
	counts := make([]int, len(targets))
	for i := range keys {
		counts[p.Pick(targets, keyed(i)).Index()]++
	}
	for i, w := range []int{1, 3, 1, 5} {
		if want := keys * w / 10; counts[i] < want*85/100 || counts[i] > want*115/100 {
			t.Errorf("target %d (weight %d) got %d keys, want about %d", i, w, counts[i], want)
		}
	}
}

func TestHashKeys(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 8)
	req := httptest.NewRequest("GET", "/x?model=m1", nil)
	req.Header.Set("X-Tenant", "acme")
	ip := netip.MustParseAddr("192.0.2.7")
	for _, tc := range []struct {
		name, key string
		a, b      *PickContext // two contexts with the same key
		missing   *PickContext // no key: goes to the fallback (first)
	}{
		{"client_ip", "client_ip",
			&PickContext{ClientIP: ip, Path: "/a"},
			&PickContext{ClientIP: netip.AddrFrom16(ip.As16()), Path: "/b"}, // IPv4-mapped form
			&PickContext{Path: "/a"}},
		{"path", "path", &PickContext{Path: "/p"}, &PickContext{Path: "/p", ClientIP: ip}, &PickContext{}},
		{"header", "header:X-Tenant",
			&PickContext{Header: http.Header{"X-Tenant": {"acme"}}},
			&PickContext{Header: http.Header{"X-Tenant": {"acme"}}, Path: "/other"},
			&PickContext{Header: http.Header{"X-Other": {"acme"}}}},
		{"cookie", "cookie:session",
			&PickContext{Header: http.Header{"Cookie": {"a=1; session=s42"}}},
			&PickContext{Header: http.Header{"Cookie": {"x=y", `session="s42"; b=2`}}},
			&PickContext{Header: http.Header{"Cookie": {"sessionx=s42"}}}},
		{"placeholder", "{header.X-Tenant}/{query.model}",
			&PickContext{Request: req},
			&PickContext{Request: req, Path: "/elsewhere"},
			&PickContext{Path: "/no-request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := hashPolicy(t, tc.key, targets)
			h, ok := p.(*Hash).keyHash(tc.a)
			if !ok {
				t.Fatal("no key found in a")
			}
			if h2, ok := p.(*Hash).keyHash(tc.b); !ok || h2 != h {
				t.Errorf("same key hashes differently: %#x, %#x (%v)", h, h2, ok)
			}
			if _, ok := p.(*Hash).keyHash(tc.missing); ok {
				t.Error("key found in the context without one")
			}
			if p.Pick(targets, tc.a) != p.Pick(targets, tc.b) {
				t.Error("same key, different targets")
			}
			// The fallback is "first": on targets[3:] it picks targets[3].
			if got := p.Pick(targets[3:], tc.missing); got != targets[3] {
				t.Errorf("missing key: Pick = %s, want the fallback's %s", got, targets[3])
			}
		})
	}
}

func TestHashKeysSpread(t *testing.T) {
	t.Parallel()
	// Client IPs, headers and cookies differing in one byte land on
	// different targets: the mixing is not degenerate.
	targets := testTargets(t, 4)
	for _, tc := range []struct {
		key string
		pc  func(i int) *PickContext
	}{
		{"client_ip", func(i int) *PickContext {
			return &PickContext{ClientIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
		}},
		{"header:X-User", func(i int) *PickContext {
			return &PickContext{Header: http.Header{"X-User": {fmt.Sprint(i)}}}
		}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			p := hashPolicy(t, tc.key, targets)
			counts := make([]int, 4)
			for i := range 4000 {
				counts[p.Pick(targets, tc.pc(i)).Index()]++
			}
			for i, c := range counts {
				if c < 800 || c > 1200 {
					t.Errorf("target %d got %d of 4000 keys, want about 1000 (%v)", i, c, counts)
				}
			}
		})
	}
}

func TestHashSettings(t *testing.T) {
	t.Parallel()
	targets := testTargets(t, 2)
	for _, tc := range []struct {
		name    string
		hash    *config.HashPolicy
		wantErr bool
	}{
		{"defaults", nil, false},
		{"unknown key", &config.HashPolicy{Key: "body"}, true},
		{"empty header name", &config.HashPolicy{Key: "header:"}, true},
		{"bad placeholder", &config.HashPolicy{Key: "{nope}"}, true},
		{"fallback cannot be hash", &config.HashPolicy{Key: "path", Fallback: "hash"}, true},
		{"unknown fallback", &config.HashPolicy{Key: "path", Fallback: "nope"}, true},
		{"fallback weighted", &config.HashPolicy{Key: "path", Fallback: "weighted"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewPolicy("hash", PolicyOptions{Upstream: config.Upstream{Hash: tc.hash}, Targets: targets})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestHashGrownPool(t *testing.T) {
	t.Parallel()
	// A target unknown at construction is hashed on the fly, identically.
	all := testTargets(t, 3)
	pAll := hashPolicy(t, "path", all)
	pTwo := hashPolicy(t, "path", all[:2])
	for i := range 500 {
		if a, b := pAll.Pick(all, keyed(i)), pTwo.Pick(all, keyed(i)); a != b {
			t.Fatalf("key %d: %s with precomputed hashes, %s without", i, a, b)
		}
	}
}
