package e2e

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/demo"
)

// TestCacheDemoEmbeddings: POST caching against the demo's real embeddings
// backend. Like many inference APIs it answers "Cache-Control: no-store";
// embeddings are deterministic, so the route overrides that explicitly
// (ignore_directives) and gives answers a lifetime (default_ttl). The same
// input in another key order and spacing is a hit with the same vectors;
// another input is a miss.
func TestCacheDemoEmbeddings(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b, err := demo.Start(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /v1/embeddings, methods: [ POST ] }
    middleware:
      - cache: { size: 16MB, default_ttl: 1h, ignore_directives: [ no-store ], post: { enabled: true, max_body: 64KB, canonical_json: true } }
    upstream: embeddings
upstreams:
  embeddings: { targets: [ "%s" ] }
`, b.Embeddings))
	c := newClient(t)
	ct := []string{"Content-Type", "application/json"}
	steps := []struct {
		body string
		hit  bool
	}{
		{`{"model":"demo","input":["hello","world"]}`, false},
		{"{\n  \"input\": [\"hello\", \"world\"],\n  \"model\": \"demo\"\n}", true},
		{`{"model":"demo","input":["other"]}`, false},
	}
	var first string
	for i, s := range steps {
		st, body, h := cacheDo(t, c, "POST", inst.URL("/v1/embeddings"), s.body, ct...)
		if st != 200 || !strings.Contains(body, `"embedding"`) {
			t.Fatalf("step %d: %d %q", i, st, body)
		}
		if hit := strings.HasPrefix(h.Get("Cache-Status"), "gatehouse; hit"); hit != s.hit {
			t.Fatalf("step %d: Cache-Status %q, want hit=%v", i, h.Get("Cache-Status"), s.hit)
		}
		switch i {
		case 0:
			first = body
		case 1:
			if body != first {
				t.Fatalf("hit body differs from the stored answer:\n%s\n%s", body, first)
			}
		}
	}
}

// TestCacheStoresEncodedVariants: with [cache, compress] the cache keeps
// one encoded variant per coding (Vary: Accept-Encoding) and a hit is
// served encoded without reaching the backend or compressing again.
func TestCacheStoresEncodedVariants(t *testing.T) {
	page := strings.Repeat("<p>Gatehouse caches the encoded page.</p>\n", 200)
	be := cacheNewBackend(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = io.WriteString(w, page)
	})
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    middleware:
      - cache: { size: 16MB }
      - compress: { encodings: [gzip, zstd] }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))
	// The transport must not add or decode Accept-Encoding itself.
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: clientTimeout}
	t.Cleanup(c.CloseIdleConnections)
	steps := []struct {
		accept, coding string
		hit            bool
		upstream       int64
	}{
		{"gzip", "gzip", false, 1},
		{"gzip", "gzip", true, 1},
		{"zstd", "zstd", false, 2},
		{"zstd", "zstd", true, 2},
		{"gzip", "gzip", true, 2},
	}
	for i, s := range steps {
		req, _ := http.NewRequest("GET", inst.URL("/page"), nil)
		req.Header.Set("Accept-Encoding", s.accept)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != s.coding {
			t.Fatalf("step %d: %d, Content-Encoding %q, want %q", i, resp.StatusCode, resp.Header.Get("Content-Encoding"), s.coding)
		}
		if hit := strings.HasPrefix(resp.Header.Get("Cache-Status"), "gatehouse; hit"); hit != s.hit {
			t.Fatalf("step %d: Cache-Status %q, want hit=%v", i, resp.Header.Get("Cache-Status"), s.hit)
		}
		if got := be.count.Load(); got != s.upstream {
			t.Fatalf("step %d: backend saw %d requests, want %d", i, got, s.upstream)
		}
		if len(raw) >= len(page) {
			t.Fatalf("step %d: %d encoded bytes for a %d-byte page", i, len(raw), len(page))
		}
		if s.coding == "gzip" {
			zr, err := gzip.NewReader(strings.NewReader(string(raw)))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || string(plain) != page {
				t.Fatalf("step %d: gzip body does not decode to the page (%v)", i, err)
			}
		}
	}
}
