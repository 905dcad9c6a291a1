package proxy

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/engine"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// testFront is a proxy handler served by an httptest.Server behind a tiny
// stand-in for the runtime, which puts an observe.RequestInfo into the
// context and reports it when the handler returns (also on a panic).
type testFront struct {
	*httptest.Server
	infos chan *observe.RequestInfo
}

func newFront(t testing.TB, opts Options) *testFront {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	if opts.RequestIDHeader == "" {
		opts.RequestIDHeader = "X-Request-ID"
	}
	if os.Getenv("PROXY_DIRECT") == "1" && opts.Direct == nil {
		// The whole suite once more with the engine's client (make test).
		cp, err := engine.NewConnPool(engine.PoolOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cp.Close)
		opts.Direct = cp
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &testFront{infos: make(chan *observe.RequestInfo, 1000)}
	var n atomic.Int64
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, _ := netip.ParseAddrPort(r.RemoteAddr)
		info := &observe.RequestInfo{
			ID: fmt.Sprintf("req-%d", n.Add(1)), ClientIP: ap.Addr(), Scheme: "http",
			Start: time.Now(), Route: "test",
		}
		defer func() { f.infos <- info }()
		h.ServeHTTP(w, r.WithContext(observe.WithInfo(r.Context(), info)))
	}))
	t.Cleanup(f.Close)
	return f
}

// nextInfo waits (bounded) for the next finished request's info.
func (f *testFront) nextInfo(t testing.TB) *observe.RequestInfo {
	t.Helper()
	select {
	case info := <-f.infos:
		return info
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not finish")
		return nil
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newPool builds a pool over the given backend addresses.
func newPool(t testing.TB, targets ...string) *upstream.Pool {
	t.Helper()
	p, err := upstream.NewPool("backend", config.Upstream{Targets: targets}, upstream.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// newBackend starts an httptest backend and returns it with its pool.
func newBackend(t testing.TB, h http.HandlerFunc) (*httptest.Server, *upstream.Pool) {
	t.Helper()
	b := httptest.NewServer(h)
	t.Cleanup(b.Close)
	return b, newPool(t, b.Listener.Addr().String())
}

// rawRequest sends raw bytes to addr and returns a reader of the reply
// and the connection (closed at cleanup). Reads are bounded by a deadline.
func rawRequest(t testing.TB, addr, req string) (*bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return bufio.NewReader(c), c
}

func frontAddr(f *testFront) string { return f.Listener.Addr().String() }

func testTimeouts() Timeouts {
	return Timeouts{Connect: 2 * time.Second, ResponseHeader: 5 * time.Second, Idle: 5 * time.Second}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
