package waf

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// memState is a middleware.State for tests: every test of the package
// shares compiled engines by settings, as runtimes do across reloads, so
// the CRS is compiled once per distinct configuration, not once per test.
type memState struct {
	mu     sync.Mutex
	vals   map[string]any
	builds atomic.Int64
}

func (s *memState) Shared(key string, create func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vals[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	s.builds.Add(1)
	if s.vals == nil {
		s.vals = map[string]any{}
	}
	s.vals[key] = v
	return v, nil
}

// engines is shared by the package's tests (a test-only cache; see memState).
var engines = &memState{}

// logBuffer collects JSON log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// linesWith returns the log lines containing every one of subs.
func (l *logBuffer) linesWith(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// gateway is a waf in front of a reverse proxy to a real backend that
// counts requests and body bytes. Each request gets a RequestInfo with ID
// taken from the X-Test-ID header (default "rid-1").
type gateway struct {
	front    *httptest.Server
	backend  *httptest.Server
	hits     atomic.Int64
	received atomic.Int64
	logs     *logBuffer
}

func newGateway(t testing.TB, settings any, backend http.HandlerFunc) *gateway {
	t.Helper()
	g := &gateway{logs: &logBuffer{}}
	if backend == nil {
		backend = func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			g.received.Add(n)
			fmt.Fprintf(w, "ok %d", n)
		}
	}
	g.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		backend(w, r)
	}))
	t.Cleanup(g.backend.Close)
	u, _ := url.Parse(g.backend.URL)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport:     g.backend.Client().Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	mw := build(t, settings, g.logs)
	g.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Test-ID")
		if id == "" {
			id = "rid-1"
		}
		info := &observe.RequestInfo{ID: id, ClientIP: netip.MustParseAddr("198.51.100.7"), Route: "test"}
		mw(proxy).ServeHTTP(w, r.WithContext(observe.WithInfo(r.Context(), info)))
	}))
	t.Cleanup(g.front.Close)
	return g
}

// build constructs the middleware with the shared engine cache and a JSON
// logger into logs (may be nil).
func build(t testing.TB, settings any, logs io.Writer) middleware.Middleware {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	env := middleware.Env{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), State: engines}
	mw, err := New(config.NewMiddlewareSpec(Name, settings), env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return mw
}

// do sends a request and returns status and body; transport errors fail.
func do(t testing.TB, c *http.Client, method, target, contentType string, body io.Reader, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return resp.StatusCode, string(b)
}
