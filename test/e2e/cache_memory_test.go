package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The memory bound of the cache, end to end: 2000 distinct cacheable
// 64 KiB responses (125 MiB in all) go through a cache of 4MB. Every one is
// stored, so a cache that ignored its size would hold all of them; the
// process's RSS proves it did not, eviction proves it evicted, and a hit on
// the most recent URL proves it still stores.
const (
	cacheMemObject    = 64 << 10
	cacheMemURLs      = 2000
	cacheMemWorkers   = 8
	cacheMemRSSLimit  = 60 << 20 // far below the 125 MiB that went through
	cacheMemFloodTime = 90 * time.Second
)

// cacheMemBackend answers any path with a distinct 64 KiB body (the path,
// then filler) that a shared cache may keep for 10 minutes.
func cacheMemBackend(t *testing.T) (addr string, count *atomic.Int64) {
	t.Helper()
	count = new(atomic.Int64)
	filler := strings.Repeat("0123456789abcdef", cacheMemObject/16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		body := (r.URL.Path + "\n" + filler)[:cacheMemObject]
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), count
}

// cacheMemGet fetches url and returns the status, the body length, the
// body's first line and the Cache-Status header.
func cacheMemGet(ctx context.Context, c *http.Client, url string) (int, int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, "", "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, "", "", err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return resp.StatusCode, len(b), first, resp.Header.Get("Cache-Status"), nil
}

// cacheMemPeakRSS samples pid's RSS every 20 ms until stop is closed and
// returns a function reporting the peak seen (the final sample included).
func cacheMemPeakRSS(t *testing.T, pid int, stop <-chan struct{}) func() int64 {
	t.Helper()
	var peak atomic.Int64
	sample := func() {
		if v, err := vmRSS(pid); err == nil && v > peak.Load() {
			peak.Store(v)
		}
	}
	sample()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() int64 {
		<-done
		sample()
		return peak.Load()
	}
}

// TestCacheMemoryBound floods a 4MB cache with 2000 distinct 64 KiB
// responses (bounded concurrency 8) and checks that the cache stored each,
// that Gatehouse's RSS stayed far below what storing them all would need,
// that the oldest URL was evicted and that the most recent one is a hit.
func TestCacheMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("125 MiB flood skipped in -short mode")
	}
	beAddr, count := cacheMemBackend(t)
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: false } }
routes:
  - match: { path: /* }
    middleware:
      - cache: { size: 4MB }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, beAddr))
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), cacheMemFloodTime)
	defer cancel()
	url := func(i int) string { return inst.URL(fmt.Sprintf("/obj/%d", i)) }

	stop := make(chan struct{})
	peak := cacheMemPeakRSS(t, inst.PID(), stop)
	base, err := vmRSS(inst.PID())
	if err != nil {
		t.Fatal(err)
	}

	// The flood: URLs 0..1998 by 8 workers; 1999 last, alone, so it is the
	// most recently stored entry when the flood ends.
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		notStore atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 5 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for range cacheMemWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				st, n, first, cs, err := cacheMemGet(ctx, c, url(i))
				switch {
				case err != nil:
					fail("GET /obj/%d: %v", i, err)
				case st != 200 || n != cacheMemObject || first != fmt.Sprintf("/obj/%d", i):
					fail("GET /obj/%d: status %d, %d bytes, first line %q", i, st, n, first)
				case !strings.Contains(cs, "stored"):
					notStore.Add(1)
					fail("GET /obj/%d: Cache-Status %q, want a stored miss", i, cs)
				}
			}
		}()
	}
feed:
	for i := range cacheMemURLs - 1 {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if st, n, _, cs, err := cacheMemGet(ctx, c, url(cacheMemURLs-1)); err != nil || st != 200 || n != cacheMemObject || !strings.Contains(cs, "stored") {
		fail("GET /obj/%d (last): %d, %d bytes, Cache-Status %q, %v", cacheMemURLs-1, st, n, cs, err)
	}
	close(stop)
	peakRSS := peak()
	t.Logf("RSS: %.1f MiB at start, peak %.1f MiB while %d x %d KiB (%.0f MiB) went through a 4MB cache",
		float64(base)/(1<<20), float64(peakRSS)/(1<<20), cacheMemURLs, cacheMemObject>>10,
		float64(cacheMemURLs*cacheMemObject)/(1<<20))
	if len(failures) > 0 {
		t.Fatalf("flood failed (%d not stored); first failures:\n%s", notStore.Load(), strings.Join(failures, "\n"))
	}
	if n := count.Load(); n != cacheMemURLs {
		t.Fatalf("backend saw %d requests for %d distinct URLs, want exactly %d", n, cacheMemURLs, cacheMemURLs)
	}
	if peakRSS >= cacheMemRSSLimit {
		t.Fatalf("peak RSS %.1f MiB >= %d MiB: the 4MB cache grew with the %d responses stored",
			float64(peakRSS)/(1<<20), cacheMemRSSLimit>>20, cacheMemURLs)
	}

	// The most recent URL is a hit. Its entry is committed when the
	// backend's body has been copied, which can be just after the client
	// read the last byte: poll briefly rather than assume the order.
	var lastCS string
	hit := waitUntil(5*time.Second, func() bool {
		st, n, _, cs, err := cacheMemGet(ctx, c, url(cacheMemURLs-1))
		lastCS = cs
		return err == nil && st == 200 && n == cacheMemObject && strings.Contains(cs, "; hit")
	})
	if !hit {
		t.Fatalf("most recent URL /obj/%d: Cache-Status %q, want a hit", cacheMemURLs-1, lastCS)
	}
	if n := count.Load(); n != cacheMemURLs {
		t.Fatalf("backend saw %d requests, want %d: the hit went upstream", n, cacheMemURLs)
	}
	// The oldest URL was evicted: 4MB holds at most 64 of these objects,
	// and 1999 newer ones were stored after it.
	st, n, _, cs, err := cacheMemGet(ctx, c, url(0))
	if err != nil || st != 200 || n != cacheMemObject {
		t.Fatalf("GET /obj/0 again: %d, %d bytes, %v", st, n, err)
	}
	if strings.Contains(cs, "; hit") || count.Load() != cacheMemURLs+1 {
		t.Fatalf("GET /obj/0 after the flood: Cache-Status %q, backend count %d; want a miss (evicted)", cs, count.Load())
	}
}
