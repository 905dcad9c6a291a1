package cache

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStoreBoundUnderFlood: a flood of distinct keys never takes the store
// past its bound, and a hot entry (hit twice, so protected) survives it.
func TestStoreBoundUnderFlood(t *testing.T) {
	st, err := NewStore(64 << 10)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(k string, n int) *Entry {
		return &Entry{Key: k, Variant: "GET http", Header: http.Header{"A": {"b"}}, Body: make([]byte, n)}
	}
	st.Put(mk("hot", 1000))
	if e, _ := st.lookup("hot", "GET http", nil); e == nil {
		t.Fatal("hot entry missing")
	}
	for i := range 5000 {
		st.Put(mk("k"+strconv.Itoa(i), 100+i%3000))
		if u := st.Used(); u > st.Capacity() {
			t.Fatalf("after %d puts: used %d > capacity %d", i, u, st.Capacity())
		}
	}
	if e, _ := st.lookup("hot", "GET http", nil); e == nil {
		t.Fatal("one-hit wonders evicted the hot entry (segmented LRU should protect it)")
	}
	if st.Put(mk("huge", 1<<20)) {
		t.Fatal("an entry larger than the store was accepted")
	}
}

// TestStreaming covers the fill: bodies over max_object_size stream
// through unstored, a backend that dies mid-body leaves nothing stored,
// and flushed chunks reach the client before the response ends.
func TestStreaming(t *testing.T) {
	t.Run("too-large-streams-uncached", func(t *testing.T) {
		clk := newClock()
		o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, _ time.Time) {
			w.Header().Set("Cache-Control", "max-age=60")
			for range 10 {
				_, _ = w.Write([]byte(strings.Repeat("x", 100)))
				w.(http.Flusher).Flush() // chunked: no Content-Length up front
			}
		})
		f := newFront(t, clk, o, func(op *Options) { op.MaxObjectSize = 500 })
		for i := range 2 {
			_, body := f.do(t, "GET", "/big", "")
			if len(body) != 1000 {
				t.Fatalf("request %d: body %d bytes, want 1000", i, len(body))
			}
		}
		if o.count.Load() != 2 || f.cache.Store().Len() != 0 {
			t.Fatalf("upstream %d, stored %d: a too-large object was cached", o.count.Load(), f.cache.Store().Len())
		}
	})
	t.Run("cut-off-never-stored", func(t *testing.T) {
		clk := newClock()
		o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, _ time.Time) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("short"))
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		f := newFront(t, clk, o, nil)
		for range 2 {
			req, _ := http.NewRequest("GET", f.srv.URL+"/cut", nil)
			if resp, err := http.DefaultTransport.RoundTrip(req); err == nil {
				_, _ = resp.Body.Read(make([]byte, 200))
				resp.Body.Close()
			}
		}
		if o.count.Load() != 2 || f.cache.Store().Len() != 0 {
			t.Fatalf("upstream %d, stored %d: a cut-off response was cached", o.count.Load(), f.cache.Store().Len())
		}
	})
	t.Run("flush-reaches-client-before-end", func(t *testing.T) {
		clk := newClock()
		release := make(chan struct{})
		o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, _ time.Time) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: 1\n\n"))
			w.(http.Flusher).Flush()
			<-release
		})
		f := newFront(t, clk, o, nil)
		resp, err := http.Get(f.srv.URL + "/sse")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 9)
		done := make(chan error, 1)
		go func() {
			_, err := resp.Body.Read(buf)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil || string(buf) != "data: 1\n\n" {
				t.Fatalf("first event %q, %v", buf, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("event not delivered while the stream is open")
		}
		close(release)
	})
}

// TestCoalescing: concurrent misses for one key make one upstream request.
func TestCoalescing(t *testing.T) {
	clk := newClock()
	gate := make(chan struct{})
	o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
		<-gate
		fixed(200, "Cache-Control", "max-age=60")(n, w, r, now)
	})
	f := newFront(t, clk, o, nil)
	var wg sync.WaitGroup
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, bodies[i] = f.do(t, "GET", "/c", "")
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for o.count.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling a condition, not synchronising
	}
	close(gate)
	wg.Wait()
	if n := o.count.Load(); n != 1 {
		t.Fatalf("%d upstream requests for 20 concurrent misses, want 1", n)
	}
	for i, b := range bodies {
		if b != "v1" {
			t.Fatalf("request %d got %q", i, b)
		}
	}
}

// TestPostBodyKey: POST caching keys on the body hash; canonical JSON makes
// key order and whitespace irrelevant; an over-limit body streams through.
func TestPostBodyKey(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	var seen []string
	o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		mu.Lock()
		seen = append(seen, string(b))
		mu.Unlock()
		fixed(200, "Cache-Control", "max-age=60")(n, w, r, now)
	})
	f := newFront(t, clk, o, func(op *Options) { op.Post = PostOptions{Enabled: true, MaxBody: 64, CanonicalJSON: true} })
	ct := []string{"Content-Type", "application/json"}
	steps := []struct {
		body     string
		upstream int64
	}{
		{`{"model":"e","input":"hi"}`, 1},
		{`{ "input" : "hi", "model":"e" }`, 1},
		{`{"model":"e","input":"ho"}`, 2},
		{`{"model":"e","input":"` + strings.Repeat("z", 100) + `"}`, 3},
		{`{"model":"e","input":"` + strings.Repeat("z", 100) + `"}`, 4},
	}
	for i, s := range steps {
		f.do(t, "POST", "/v1/embeddings", s.body, ct...)
		if got := o.count.Load(); got != s.upstream {
			t.Fatalf("step %d: upstream %d, want %d", i, got, s.upstream)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if last := seen[len(seen)-1]; len(last) != len(steps[4].body) {
		t.Fatalf("over-limit body reached upstream with %d bytes, want %d", len(last), len(steps[4].body))
	}
}

// TestPurge: PURGE by URL, prefix and tag; refused without the token.
func TestPurge(t *testing.T) {
	clk := newClock()
	o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
		w.Header().Set("Surrogate-Key", "all "+strings.Trim(r.URL.Path, "/"))
		fixed(200, "Cache-Control", "max-age=600")(n, w, r, now)
	})
	f := newFront(t, clk, o, func(op *Options) {
		op.Purge = PurgeOptions{Allow: []string{"127.0.0.0/8"}, Token: "s3cret"}
	})
	fill := func() {
		for _, p := range []string{"/a/1", "/a/2", "/b"} {
			f.do(t, "GET", p, "")
		}
	}
	fill()
	if n := f.cache.Store().Len(); n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
	resp, _ := f.do(t, "PURGE", "/a/1", "")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("PURGE without token: %d", resp.StatusCode)
	}
	tok := []string{"X-Purge-Token", "s3cret"}
	cases := []struct {
		path string
		hdr  []string
		want string
		left int
	}{
		{"/a/1", nil, `{"purged":1}`, 2},
		{"/a/*", nil, `{"purged":1}`, 1},
		{"/", []string{"X-Purge-Tag", "b"}, `{"purged":1}`, 0},
	}
	for _, c := range cases {
		resp, body := f.do(t, "PURGE", c.path, "", append(tok, c.hdr...)...)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != c.want || f.cache.Store().Len() != c.left {
			t.Fatalf("PURGE %s %v: %d %q, %d left; want %s, %d left", c.path, c.hdr, resp.StatusCode, body, f.cache.Store().Len(), c.want, c.left)
		}
	}
	fill()
	_, body := f.do(t, "PURGE", "/", "", append(tok, "X-Purge-Tag", "all")...)
	if strings.TrimSpace(body) != `{"purged":3}` {
		t.Fatalf("purge tag all: %q", body)
	}
}

// BenchmarkHit is the hit path: key, lookup, freshness, ServeContent.
func BenchmarkHit(b *testing.B) {
	st, _ := NewStore(1 << 20)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _ := New(st, Options{Now: func() time.Time { return now }})
	body := strings.Repeat("x", 1024)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Date", now.Format(http.TimeFormat))
		_, _ = fmt.Fprint(w, body)
	}))
	req := httptest.NewRequest("GET", "http://example.com/a?b=1", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	if w.code != 200 || w.n != 1024 {
		b.Fatalf("hit path wrote %d, %d bytes", w.code, w.n)
	}
}

type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(c int)   { w.code = c }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.n = len(b)
	return len(b), nil
}
