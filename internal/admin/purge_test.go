package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/runtime"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// purgeBackend answers every request cacheable for an hour, tagged by its
// first path segment, and counts what reaches it.
func purgeBackend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		w.Header().Set("Surrogate-Key", "seg-"+seg)
		fmt.Fprintf(w, "n=%d", n.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func cacheConfigFor(backend, cluster string) string {
	return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: false } }
%s
routes:
  - match: { path: /* }
    middleware:
      - cache: { name: pages, size: 4MB }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, cluster, strings.TrimPrefix(backend, "http://"))
}

// hit GETs url and reports whether the cache answered it.
func hit(t *testing.T, url string) bool {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	cs := resp.Header.Get("Cache-Status")
	return strings.Contains(cs, "hit") && !strings.Contains(cs, "fwd=")
}

func TestPurge(t *testing.T) {
	be, _ := purgeBackend(t)
	paths := []string{"/a/1", "/a/2?x=1", "/b/1"}
	cases := []struct {
		name   string
		body   func(front string) string
		purged []string // paths that must miss afterwards; the others still hit
	}{
		{"url", func(front string) string { return `{"cache":"pages","url":"http://` + front + `/a/1"}` }, []string{"/a/1"}},
		{"url with query", func(front string) string { return `{"cache":"pages","url":"http://` + front + `/a/2?x=1"}` }, []string{"/a/2?x=1"}},
		{"prefix", func(front string) string { return `{"cache":"pages","prefix":"http://` + front + `/a/*"}` }, []string{"/a/1", "/a/2?x=1"}},
		{"tags", func(string) string { return `{"cache":"pages","tags":["seg-b"]}` }, []string{"/b/1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cacheConfigFor(be.URL, ""), "")
			front := httptest.NewServer(f.holder)
			defer front.Close()
			host := strings.TrimPrefix(front.URL, "http://")
			for _, p := range paths {
				hit(t, front.URL+p)
				if !hit(t, front.URL+p) {
					t.Fatalf("%s not cached", p)
				}
			}
			st, body, _ := f.do(t, http.MethodPost, "/cache/purge", tc.body(host))
			var res purgeResult
			if st != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || res.Purged != len(tc.purged) || res.Cache != "pages" || res.Cluster {
				t.Fatalf("%d %s", st, body)
			}
			for _, p := range paths {
				gone := false
				for _, q := range tc.purged {
					gone = gone || q == p
				}
				if got := hit(t, front.URL+p); got == gone {
					t.Errorf("%s: hit=%v after the purge, want %v", p, got, !gone)
				}
			}
		})
	}
}

func TestPurgeRefusals(t *testing.T) {
	be, _ := purgeBackend(t)
	f := newFixture(t, cacheConfigFor(be.URL, ""), "")
	cases := []struct {
		name, body, ctype string
		status            int
		want              string
	}{
		{"unknown cache", `{"cache":"nope","url":"http://h/"}`, "", http.StatusNotFound, "nope"},
		{"default cache absent", `{"url":"http://h/"}`, "", http.StatusNotFound, "default"},
		{"nothing to purge", `{"cache":"pages"}`, "", http.StatusBadRequest, "exactly one"},
		{"two kinds", `{"cache":"pages","url":"http://h/","tags":["x"]}`, "", http.StatusBadRequest, "exactly one"},
		{"relative url", `{"cache":"pages","url":"/a/1"}`, "", http.StatusBadRequest, "absolute"},
		{"empty tag", `{"cache":"pages","tags":[" "]}`, "", http.StatusBadRequest, "empty tag"},
		{"unknown field", `{"cache":"pages","uri":"http://h/"}`, "", http.StatusBadRequest, "uri"},
		{"not JSON", `cache=pages`, "", http.StatusBadRequest, "JSON"},
		{"form content type", `{"cache":"pages","url":"http://h/"}`, "application/x-www-form-urlencoded", http.StatusBadRequest, "application/json"},
		{"empty body", ``, "", http.StatusBadRequest, "JSON"},
		{"too large", `{"cache":"pages","tags":["` + strings.Repeat("x", maxBody) + `"]}`, "", http.StatusBadRequest, "larger"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ctype != "" {
				hdr = []string{"Content-Type", tc.ctype}
			}
			st, body, _ := f.do(t, http.MethodPost, "/cache/purge", tc.body, hdr...)
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s, want %d with %q", st, body, tc.status, tc.want)
			}
		})
	}
}

// TestPurgeFansOut: with cluster.redis, a purge through one instance's
// admin API empties the other instance's cache too.
func TestPurgeFansOut(t *testing.T) {
	rs := redisserver.Start(t)
	be, _ := purgeBackend(t)
	cfg := cacheConfigFor(be.URL, fmt.Sprintf(`cluster: { redis: { address: "%s", prefix: "admintest%d:" } }`, rs.Addr(), time.Now().UnixNano()))
	one := newFixture(t, cfg, "")
	rt2, err := runtime.Build(testConfig(t, cfg), nil, runtime.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	two := runtime.NewHolder(rt2)
	t.Cleanup(func() { two.Current().Close() })
	front1 := httptest.NewServer(one.holder)
	defer front1.Close()
	front2 := httptest.NewServer(two)
	defer front2.Close()
	// Both fronts are asked with the same Host, so both caches hold the
	// same key.
	const host = "shop.example"
	get := func(front string, hdr ...string) (int, bool) {
		req, _ := http.NewRequest(http.MethodGet, front+"/a/1", nil)
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cs := resp.Header.Get("Cache-Status")
		return resp.StatusCode, strings.Contains(cs, "hit") && !strings.Contains(cs, "fwd=")
	}
	for _, fr := range []string{front1.URL, front2.URL} {
		get(fr)
		if _, hit := get(fr); !hit {
			t.Fatalf("%s: not cached", fr)
		}
	}
	st, body, _ := one.do(t, http.MethodPost, "/cache/purge", `{"cache":"pages","url":"http://`+host+`/a/1"}`)
	if st != http.StatusOK || !strings.Contains(body, `"cluster": true`) {
		t.Fatalf("%d %s", st, body)
	}
	// Pub/sub delivery is asynchronous: poll the other instance with
	// only-if-cached (RFC 9111 section 5.2.1.7: 504 when nothing is
	// stored), which never refills the cache.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := get(front2.URL, "Cache-Control", "only-if-cached"); st == http.StatusGatewayTimeout {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance still holds the purged URL")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition under a deadline
	}
	if _, hit := get(front1.URL); hit {
		t.Fatal("this instance answered the purged URL from its cache")
	}
}
