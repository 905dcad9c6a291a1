package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// testNow is the fixed instant the unit tests' clocks start at.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is an injected clock the test moves by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(testNow.UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// backend is the next handler: it records what reached it.
type backend struct {
	mu    sync.Mutex
	calls int
	last  *http.Request
	id    *Identity
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.calls++
	b.last = r
	b.id = IdentityFrom(r.Context())
	b.mu.Unlock()
	io.WriteString(w, "backend")
}

func (b *backend) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

func (b *backend) Last() (*http.Request, *Identity) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last, b.id
}

// testEnv is an Env with a silent logger and the given clock.
func testEnv(now func() time.Time) middleware.Env {
	return middleware.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now}
}

// build constructs the middleware from settings (as a config file would
// give them) in front of a fresh backend.
func build(t testing.TB, settings map[string]any, env middleware.Env) (http.Handler, *backend) {
	t.Helper()
	mw, err := New(config.NewMiddlewareSpec(Name, settings), env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	be := &backend{}
	return mw(be), be
}

// do sends one request through h with the given headers (name, value
// pairs) and returns the recorder.
func do(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

// Keys are generated once per test binary: RSA generation is slow.
var (
	rsaKeyA = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsaKeyB = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	ecKey   = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	edKey = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}
