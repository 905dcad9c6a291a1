package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// discardWriter is a minimal ResponseWriter, so the benchmark measures the
// proxy and the upstream exchange, not a recorder's buffering.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkProxyServeHTTP forwards a small GET to a real loopback backend
// over pooled keep-alive connections. It is the net/http baseline the own
// engine is measured against.
func BenchmarkProxyServeHTTP(b *testing.B) {
	body := make([]byte, 1024)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	}))
	defer backend.Close()
	h, err := New(Options{Pool: newPool(b, backend.Listener.Addr().String()), PreserveHost: true,
		Timeouts: Timeouts{Connect: time.Second, ResponseHeader: 5 * time.Second, Idle: 5 * time.Second}, RequestIDHeader: "X-Request-ID"})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://api.example.com/v1/items?x=1", nil)
	req.RemoteAddr = "192.0.2.1:4711"
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		info := &observe.RequestInfo{ID: "0123456789abcdefghijklmnop", ClientIP: netip.MustParseAddr("192.0.2.1"), Scheme: "http"}
		clear(w.h)
		h.ServeHTTP(w, req.WithContext(observe.WithInfo(req.Context(), info)))
		if info.Err != nil {
			b.Fatal(info.Err)
		}
	}
}
