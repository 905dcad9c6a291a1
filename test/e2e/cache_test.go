package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// cacheBackend is a backend for the cache tests: handle answers request n
// (1-based); count is how many requests reached it.
type cacheBackend struct {
	srv   *httptest.Server
	count atomic.Int64
}

func cacheNewBackend(t *testing.T, handle func(n int64, w http.ResponseWriter, r *http.Request)) *cacheBackend {
	t.Helper()
	b := &cacheBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(b.count.Add(1), w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *cacheBackend) Addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

// cacheConfig is one instance with the cache on every route; extra is
// appended to the cache settings, cluster is a cluster block or "".
func cacheConfig(backend, extra, cluster string) string {
	return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
%s
routes:
  - match: { path: /* }
    middleware:
      - cache: { size: 16MB, max_object_size: 1MB %s }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, cluster, extra, backend)
}

// cacheDo sends one request and returns status, body and header.
func cacheDo(t *testing.T, c *http.Client, method, url, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// TestCacheCoalescing: 100 concurrent misses for one URL make exactly one
// upstream request; all 100 clients get the body.
func TestCacheCoalescing(t *testing.T) {
	gate := make(chan struct{})
	be := cacheNewBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		<-gate
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprintf(w, "body-%d", n)
	})
	inst := start(t, cacheConfig(be.Addr(), "", ""))
	c := newClient(t)
	var wg sync.WaitGroup
	var started atomic.Int64
	bodies := make([]string, 100)
	statuses := make([]int, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			req, _ := http.NewRequest("GET", inst.URL("/hot"), nil)
			resp, err := c.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i], statuses[i] = string(b), resp.StatusCode
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for (be.count.Load() == 0 || started.Load() < 100) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond) // polling a condition under a deadline
	}
	close(gate)
	wg.Wait()
	if n := be.count.Load(); n != 1 {
		t.Fatalf("backend saw %d requests for 100 concurrent misses, want exactly 1", n)
	}
	for i := range bodies {
		if statuses[i] != 200 || bodies[i] != "body-1" {
			t.Fatalf("client %d: %d %q", i, statuses[i], bodies[i])
		}
	}
}

// TestCacheStaleIfError: with the backend stopped, a stale stored response
// is served (RFC 5861 stale-if-error) instead of a 502.
func TestCacheStaleIfError(t *testing.T) {
	be := cacheNewBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0, stale-if-error=300")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "still here")
	})
	inst := start(t, cacheConfig(be.Addr(), "", ""))
	c := newClient(t)
	if st, body, h := cacheDo(t, c, "GET", inst.URL("/page"), ""); st != 200 || body != "still here" || !strings.Contains(h.Get("Cache-Status"), "stored") {
		t.Fatalf("first: %d %q %q", st, body, h.Get("Cache-Status"))
	}
	be.srv.Close()
	st, body, h := cacheDo(t, c, "GET", inst.URL("/page"), "")
	if st != 200 || body != "still here" {
		t.Fatalf("backend down: %d %q, want the stale page", st, body)
	}
	if cs := h.Get("Cache-Status"); !strings.Contains(cs, "detail=stale-if-error") || h.Get("Age") == "" {
		t.Fatalf("Cache-Status %q, Age %q", cs, h.Get("Age"))
	}
}

// TestCacheStatusAgeAndSSE: a miss is marked stored, a hit carries Age and
// Cache-Status hit; an event stream is never stored and still streams.
func TestCacheStatusAgeAndSSE(t *testing.T) {
	be := cacheNewBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "max-age=300")
			fmt.Fprintf(w, "data: %d\n\n", n)
			w.(http.Flusher).Flush()
			return
		}
		w.Header().Set("Cache-Control", "max-age=300")
		io.WriteString(w, "doc")
	})
	inst := start(t, cacheConfig(be.Addr(), "", ""))
	c := newClient(t)
	_, _, h := cacheDo(t, c, "GET", inst.URL("/doc"), "")
	if cs := h.Get("Cache-Status"); cs != "gatehouse; fwd=uri-miss; fwd-status=200; stored" {
		t.Fatalf("miss Cache-Status %q", cs)
	}
	_, body, h := cacheDo(t, c, "GET", inst.URL("/doc"), "")
	if !strings.HasPrefix(h.Get("Cache-Status"), "gatehouse; hit") || h.Get("Age") == "" || body != "doc" {
		t.Fatalf("hit: Cache-Status %q Age %q body %q", h.Get("Cache-Status"), h.Get("Age"), body)
	}
	for i := 1; i <= 2; i++ {
		resp, err := c.Get(inst.URL("/events"))
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		resp.Body.Close()
		if err != nil || line != fmt.Sprintf("data: %d\n", i+1) { // request 1 was /doc
			t.Fatalf("event stream %d: %q %v (an SSE response was served from cache?)", i, line, err)
		}
	}
}

// TestCachePostBodyHash: POST caching for an embeddings-like API: the same
// JSON body (any key order or whitespace) hits, another body misses.
func TestCachePostBodyHash(t *testing.T) {
	be := cacheNewBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"n":%d,"len":%d,"data":[{"embedding":[0.1,0.2]}]}`, n, len(b))
	})
	inst := start(t, cacheConfig(be.Addr(), ", post: { enabled: true, max_body: 64KB, canonical_json: true }", ""))
	c := newClient(t)
	ct := []string{"Content-Type", "application/json"}
	steps := []struct {
		body     string
		upstream int64
		hit      bool
	}{
		{`{"model":"text-embed","input":["hello world"]}`, 1, false},
		{"{ \"input\": [\"hello world\"],\n \"model\": \"text-embed\" }", 1, true},
		{`{"model":"text-embed","input":["another"]}`, 2, false},
		{`{"model":"text-embed","input":["another"]}`, 2, true},
	}
	for i, s := range steps {
		st, body, h := cacheDo(t, c, "POST", inst.URL("/v1/embeddings"), s.body, ct...)
		if st != 200 || !strings.Contains(body, `"embedding"`) {
			t.Fatalf("step %d: %d %q", i, st, body)
		}
		if got := be.count.Load(); got != s.upstream {
			t.Fatalf("step %d: backend saw %d, want %d", i, got, s.upstream)
		}
		if hit := strings.HasPrefix(h.Get("Cache-Status"), "gatehouse; hit"); hit != s.hit {
			t.Fatalf("step %d: Cache-Status %q, want hit=%v", i, h.Get("Cache-Status"), s.hit)
		}
	}
}

// TestCachePurgeByTagAcrossInstances: two instances sharing a redis-server;
// a PURGE by tag on one removes the tagged entries on both.
func TestCachePurgeByTagAcrossInstances(t *testing.T) {
	srv := redisserver.Start(t)
	be := cacheNewBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if strings.HasPrefix(r.URL.Path, "/product/") {
			w.Header().Set("Surrogate-Key", "products "+strings.TrimPrefix(r.URL.Path, "/product/"))
		}
		fmt.Fprintf(w, "n=%d", n)
	})
	cluster := fmt.Sprintf(`cluster: { redis: { address: "%s", prefix: "e2e-cache:", timeout: 1s } }`, srv.Addr())
	purge := `, purge: { allow: [127.0.0.1/32], token: s3cret }`
	a := start(t, cacheConfig(be.Addr(), purge, cluster))
	b := start(t, cacheConfig(be.Addr(), purge, cluster))
	c := newClient(t)
	for _, inst := range []*instance{a, b} {
		for _, p := range []string{"/product/1", "/product/2", "/about"} {
			cacheDo(t, c, "GET", inst.URL(p), "")
		}
	}
	if n := be.count.Load(); n != 6 {
		t.Fatalf("backend saw %d fills, want 6", n)
	}
	if st, _, _ := cacheDo(t, c, "PURGE", a.URL("/"), "", "X-Purge-Tag", "products"); st != http.StatusForbidden {
		t.Fatalf("PURGE without token: %d, want 403", st)
	}
	st, body, _ := cacheDo(t, c, "PURGE", a.URL("/"), "", "X-Purge-Tag", "products", "X-Purge-Token", "s3cret")
	if st != 200 || strings.TrimSpace(body) != `{"purged":2}` {
		t.Fatalf("PURGE: %d %q", st, body)
	}
	// On b the purge arrives through Redis: poll until it has.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, h := cacheDo(t, c, "GET", b.URL("/product/1"), "", "Cache-Control", "only-if-cached")
		if !strings.HasPrefix(h.Get("Cache-Status"), "gatehouse; hit") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("purge did not reach the second instance")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition under a deadline
	}
	for _, inst := range []*instance{a, b} {
		if _, _, h := cacheDo(t, c, "GET", inst.URL("/about"), ""); !strings.HasPrefix(h.Get("Cache-Status"), "gatehouse; hit") {
			t.Fatalf("untagged /about was purged: %q", h.Get("Cache-Status"))
		}
	}
}
