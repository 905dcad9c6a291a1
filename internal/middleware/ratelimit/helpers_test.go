package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// clock is a manual clock for env.Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// memState is a middleware.State kept across "reloads" in a test.
type memState struct {
	mu sync.Mutex
	m  map[string]any
}

func (s *memState) Shared(key string, create func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]any{}
	}
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	v, err := create()
	if err == nil {
		s.m[key] = v
	}
	return v, err
}

// backend counts the requests that reached it.
type backend struct{ n atomic.Int64 }

func (b *backend) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	b.n.Add(1)
	w.WriteHeader(http.StatusOK)
}

// build constructs the registered middleware name with settings around b.
func build(t testing.TB, name string, settings any, env middleware.Env, b http.Handler) http.Handler {
	t.Helper()
	c, ok := middleware.Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	spec := config.NewMiddlewareSpec(name, settings)
	spec.Path = "$.routes[0].middleware[0]." + name
	mw, err := c(spec, env)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return mw(b)
}

// request is a GET from client ip (through the request info, as the
// runtime sets it) with headers as name, value pairs.
func request(ip string, hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.test/x", nil)
	info := &observe.RequestInfo{ID: "rid-1", Route: "api"}
	if ip != "" {
		info.ClientIP = netip.MustParseAddr(ip)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r.WithContext(observe.WithInfo(r.Context(), info))
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func envWithClock(c *clock) middleware.Env { return middleware.Env{Now: c.Now} }

// discardWriter is a minimal ResponseWriter for benchmarks.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
