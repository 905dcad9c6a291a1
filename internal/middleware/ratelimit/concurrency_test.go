package ratelimit

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// gate is a handler that blocks each request until released.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 16), release: make(chan struct{})} }

func (g *gate) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	g.entered <- struct{}{}
	<-g.release
	w.WriteHeader(http.StatusOK)
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		settings any
		status   int
	}{
		{"default 429", map[string]any{"max": 2}, 429},
		{"short form", 2, 429},
		{"503 when asked", map[string]any{"max": 2, "status": 503}, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate()
			spec := config.NewMiddlewareSpec(ConcurrencyName, tc.settings)
			c, err := newConcurrency(spec, middleware.Env{})
			if err != nil {
				t.Fatal(err)
			}
			h := c.Wrap(g)
			done := make(chan int, 2)
			for range 2 {
				go func() { done <- serve(h, request("192.0.2.1")).Code }()
				<-g.entered
			}
			w := serve(h, request("192.0.2.1"))
			if w.Code != tc.status || w.Header().Get("Retry-After") != "1" ||
				w.Header().Get("RateLimit") != `"concurrency";r=0` ||
				w.Header().Get("RateLimit-Policy") != `"concurrency";q=2;qu="concurrent-requests"` {
				t.Fatalf("third in flight: %d %v", w.Code, w.Header())
			}
			// Another client is not affected.
			go func() { done <- serve(h, request("192.0.2.2")).Code }()
			<-g.entered
			close(g.release)
			for range 3 {
				select {
				case c := <-done:
					if c != 200 {
						t.Fatalf("admitted request ended %d", c)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("admitted requests did not finish")
				}
			}
			if n := c.inFlight(); n != 0 {
				t.Fatalf("%d still counted after all returned", n)
			}
			if w := serve(h, request("192.0.2.1")); w.Code != 200 {
				t.Fatalf("after release: %d", w.Code)
			}
		})
	}
}

// TestConcurrencyReleasedOnPanic: a handler that panics (including
// http.ErrAbortHandler, the proxy's way to abort a response) releases its
// slot.
func TestConcurrencyReleasedOnPanic(t *testing.T) {
	t.Parallel()
	for _, p := range []any{http.ErrAbortHandler, "boom"} {
		c, err := newConcurrency(config.NewMiddlewareSpec(ConcurrencyName, 1), middleware.Env{})
		if err != nil {
			t.Fatal(err)
		}
		h := c.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(p) }))
		func() {
			defer func() {
				if recover() != p {
					t.Fatalf("panic %v not propagated", p)
				}
			}()
			serve(h, request("192.0.2.1"))
		}()
		if n := c.inFlight(); n != 0 {
			t.Fatalf("panic %v: %d still counted", p, n)
		}
	}
}

func TestConcurrencyConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		settings any
		want     string
	}{
		{map[string]any{}, "max"},
		{0, "max"},
		{map[string]any{"max": 1, "status": 500}, "status"},
		{map[string]any{"max": 1, "key": "bogus"}, "invalid key source"},
		{map[string]any{"max": 1, "mx": 1}, "mx"},
	} {
		_, err := NewConcurrency(config.NewMiddlewareSpec(ConcurrencyName, tc.settings), middleware.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.settings, err, tc.want)
		}
	}
}
