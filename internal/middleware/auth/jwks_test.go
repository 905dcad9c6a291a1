package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwkJSON renders pub as a JWK with kid.
func jwkJSON(kid string, pub any) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			panic(err)
		}
		size := (len(raw) - 1) / 2
		return map[string]any{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
	}
	panic("unknown key type")
}

// jwksServer is a real JWKS endpoint whose keys the test changes.
type jwksServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	keys  []map[string]any
	down  bool
	count int
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.count++
		if s.down {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) set(down bool, keys ...map[string]any) {
	s.mu.Lock()
	s.keys, s.down = keys, down
	s.mu.Unlock()
}

func (s *jwksServer) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// waitFor polls cond until it holds or 10 s passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// mapState is a State like the runtime's: one value per key.
type mapState struct {
	mu   sync.Mutex
	vals map[string]any
}

func (s *mapState) Shared(key string, create func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vals[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	if s.vals == nil {
		s.vals = map[string]any{}
	}
	s.vals[key] = v
	return v, nil
}

func (s *mapState) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vals {
		if c, ok := v.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

func TestJWKSRotation(t *testing.T) {
	clk := newClock()
	idp := newJWKSServer(t, jwkJSON("a", &rsaKeyA().PublicKey))
	state := &mapState{}
	t.Cleanup(state.closeAll)
	env := testEnv(clk.Now)
	env.State = state
	settings := map[string]any{"jwt": map[string]any{
		"jwks_url": idp.srv.URL, "issuer": "https://idp.test",
		"jwks_refresh_interval": "10m", "jwks_min_refresh_interval": "30s", "jwks_timeout": "2s",
	}}
	h, be := build(t, settings, env)
	tokA := sign(t, jwt.SigningMethodRS256, rsaKeyA(), "a", claimsAt(nil))
	tokB := sign(t, jwt.SigningMethodRS256, rsaKeyB(), "b", claimsAt(nil))
	tokC := sign(t, jwt.SigningMethodES256, ecKey(), "c", claimsAt(nil))
	tokEd := sign(t, jwt.SigningMethodEdDSA, edKey(), "", claimsAt(nil))
	status := func(tok string) int { return do(h, "/", "Authorization", "Bearer "+tok).Code }

	if got := status(tokA); got != 200 {
		t.Fatalf("key a: %d", got)
	}
	if n := idp.Count(); n != 1 {
		t.Fatalf("%d fetches after the first token, want 1", n)
	}

	// A reload with the same settings shares the cache: no new fetch.
	h, be = build(t, settings, env)
	if got := status(tokA); got != 200 || idp.Count() != 1 {
		t.Fatalf("after reload: status %d, %d fetches (want 200, 1)", got, idp.Count())
	}

	// The IdP rotates to b. Within min_refresh_interval of the last fetch an
	// unknown kid does not fetch again.
	idp.set(false, jwkJSON("b", &rsaKeyB().PublicKey))
	for range 5 {
		if got := status(tokB); got != 401 {
			t.Fatalf("key b before a refresh is allowed: %d", got)
		}
	}
	if n := idp.Count(); n != 1 {
		t.Fatalf("unknown kids caused %d fetches within min_refresh_interval", n-1)
	}
	clk.Advance(31 * time.Second)
	if got := status(tokB); got != 200 {
		t.Fatalf("key b after rotation: %d", got)
	}
	if n := idp.Count(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	if got := status(tokA); got != 401 {
		t.Fatalf("key a, removed by the IdP: %d", got)
	}
	for _, kid := range []string{"x1", "x2", "x3"} {
		forged := sign(t, jwt.SigningMethodRS256, rsaKeyA(), kid, claimsAt(nil))
		if got := status(forged); got != 401 {
			t.Fatalf("made-up kid %s: %d", kid, got)
		}
	}
	if n := idp.Count(); n != 2 {
		t.Fatalf("made-up kids caused fetches: %d, want 2", n)
	}

	// Periodic refresh in the background: the stale keys serve while it runs.
	idp.set(false, jwkJSON("b", &rsaKeyB().PublicKey), jwkJSON("c", &ecKey().PublicKey), jwkJSON("", edKey().Public()))
	clk.Advance(11 * time.Minute)
	if got := status(tokB); got != 200 {
		t.Fatalf("key b with stale keys: %d", got)
	}
	waitFor(t, "the background refresh", func() bool {
		return idp.Count() == 3 && status(tokC) == 200
	})
	if got := status(tokEd); got != 200 {
		t.Fatalf("EdDSA token without kid: %d", got)
	}

	// The IdP goes down: the old keys keep serving, and the failed refresh
	// is retried no more than once per min_refresh_interval.
	idp.set(true)
	clk.Advance(11 * time.Minute)
	if got := status(tokB); got != 200 {
		t.Fatalf("key b with the IdP down: %d", got)
	}
	// Requests keep coming while the refresh runs; one that arrives just as
	// the previous fetch ends may find it still in flight, the next one
	// starts the refresh.
	waitFor(t, "the failed refresh", func() bool { return status(tokB) == 200 && idp.Count() == 4 })
	cache := state.vals[jwksSettings{url: idp.srv.URL, refresh: 10 * time.Minute, minRefresh: 30 * time.Second, timeout: 2 * time.Second}.key()].(*jwksCache)
	waitFor(t, "the fetch to finish", func() bool {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		return cache.inflight == nil
	})
	for range 3 {
		if got := status(tokC); got != 200 {
			t.Fatalf("key c with the IdP down: %d", got)
		}
	}
	if n := idp.Count(); n != 4 {
		t.Fatalf("%d fetches while down within min_refresh_interval, want 4", n)
	}
	if be.Calls() == 0 {
		t.Fatal("backend never called")
	}
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	idp := newJWKSServer(t)
	idp.set(true)
	h, be := build(t, map[string]any{"jwt": map[string]any{"jwks_url": idp.srv.URL}}, testEnv(newClock().Now))
	tok := sign(t, jwt.SigningMethodRS256, rsaKeyA(), "a", claimsAt(nil))
	rec := do(h, "/", "Authorization", "Bearer "+tok)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "127.0.0.1") || rec.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("503 leaks or challenges: %q %q", rec.Body.String(), rec.Header())
	}
	if be.Calls() != 0 {
		t.Fatal("backend called")
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	rsaJWK := jwkJSON("r", &rsaKeyA().PublicKey)
	small := mustRSA(1024)
	tests := []struct {
		name string
		key  map[string]any
	}{
		{"oct", map[string]any{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}},
		{"enc use", func() map[string]any { m := jwkJSON("e", &rsaKeyA().PublicKey); m["use"] = "enc"; return m }()},
		{"RSA 1024", jwkJSON("small", &small.PublicKey)},
		{"alg mismatch", func() map[string]any { m := jwkJSON("m", &ecKey().PublicKey); m["alg"] = "RS256"; return m }()},
		{"point off curve", func() map[string]any {
			m := jwkJSON("p", &ecKey().PublicKey)
			m["y"] = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
			return m
		}()},
		{"unknown curve", map[string]any{"kty": "OKP", "crv": "Ed448", "x": "AA"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := json.Marshal(map[string]any{"keys": []any{tc.key, rsaJWK}})
			keys, skipped, err := parseJWKS(doc)
			if err != nil || len(keys) != 1 || skipped != 1 || keys[0].kid != "r" {
				t.Fatalf("got %d keys, %d skipped, %v; want only r", len(keys), skipped, err)
			}
		})
	}
	if _, _, err := parseJWKS([]byte(`{"keys":[{"kty":"oct","k":"AA"}]}`)); err == nil {
		t.Fatal("a set with only unusable keys is accepted")
	}
}

// `gatehouse validate` builds every middleware with DryRun: the JWKS cache
// must not reach out to the identity provider then.
func TestJWKSNotFetchedOnDryRun(t *testing.T) {
	idp := newJWKSServer(t)
	env := testEnv(newClock().Now)
	env.DryRun = true
	build(t, map[string]any{"jwt": map[string]any{"jwks_url": idp.srv.URL}}, env)
	// The fetch would start in the background: give a real one the time
	// to arrive by building a second, non-dry cache on the same server and
	// waiting for its fetch; the dry one must still not have fetched.
	other := newJWKSServer(t)
	build(t, map[string]any{"jwt": map[string]any{"jwks_url": other.srv.URL}}, testEnv(newClock().Now))
	waitFor(t, "non-dry JWKS fetch", func() bool { return other.Count() > 0 })
	if n := idp.Count(); n != 0 {
		t.Fatalf("dry run fetched the JWKS %d times", n)
	}
}
