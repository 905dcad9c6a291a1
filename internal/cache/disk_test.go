package cache

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// diskSetup sizes a cache with a disk store for a test.
type diskSetup struct {
	mem, disk, minObj, maxObj int64
}

func (s diskSetup) withDefaults() diskSetup {
	if s.mem == 0 {
		s.mem = 1 << 20
	}
	if s.disk == 0 {
		s.disk = 1 << 20
	}
	if s.minObj == 0 {
		s.minObj = 1000
	}
	if s.maxObj == 0 {
		s.maxObj = 100 << 10
	}
	return s
}

// newDiskFront is newFront with a disk store in a t.TempDir().
func newDiskFront(t *testing.T, clk *clock, o *origin, set diskSetup, mod func(*Options)) *front {
	t.Helper()
	set = set.withDefaults()
	d, err := NewDisk(t.TempDir(), set.disk)
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStoreWithDisk(set.mem, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	opts := Options{Now: clk.Now, DiskMinObjectSize: set.minObj, MaxObjectSize: set.maxObj}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(o.srv.URL)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	f := &front{srv: httptest.NewServer(c.Handler(rp)), cache: c}
	t.Cleanup(f.srv.Close)
	return f
}

// diskFiles lists the store's files (objects and temporaries, not the
// lock) with their total size.
func diskFiles(t *testing.T, st *Store) (names []string, total int64) {
	t.Helper()
	ents, err := os.ReadDir(st.Disk().Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if de.Name() == lockName {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, de.Name())
		total += fi.Size()
	}
	return names, total
}

// stored says whether an entry is stored for path (no side effects).
func (f *front) stored(path string) bool {
	key := f.cache.requestKey(httptest.NewRequest("GET", f.srv.URL+path, nil))
	st := f.cache.Store()
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.buckets[key]) > 0
}

// bodyOf is the deterministic body of size n for request number k.
func bodyOf(k, n int) []byte {
	b := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
	copy(b, "v"+strconv.Itoa(k)+"|")
	return b
}

// sized serves bodyOf(n, size) with max-age=60, an ETag and X-Test; chunked
// writes it in flushed pieces without Content-Length.
func sized(size int, chunked bool, hdr ...string) originFunc {
	return func(n int, w http.ResponseWriter, r *http.Request, _ time.Time) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=60")
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"e`+strconv.Itoa(n)+`"`)
		h.Set("X-Test", "yes")
		for i := 0; i+1 < len(hdr); i += 2 {
			h.Set(hdr[i], hdr[i+1])
		}
		b := bodyOf(n, size)
		if !chunked {
			h.Set("Content-Length", strconv.Itoa(size))
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		for len(b) > 0 {
			k := min(len(b), 700)
			_, _ = w.Write(b[:k])
			b = b[k:]
			if chunked {
				w.(http.Flusher).Flush()
			}
		}
	}
}

// TestDiskStoreServes: large bodies (declared or chunked) go to disk and
// are served from their file on a hit, with headers, Range and HEAD; small
// bodies stay in memory.
func TestDiskStoreServes(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		chunked  bool
		wantDisk bool
	}{
		{"declared-large-on-disk", 5000, false, true},
		{"chunked-large-spills-to-disk", 5000, true, true},
		{"exactly-min-on-disk", 1000, false, true},
		{"small-in-memory", 999, false, false},
		{"small-chunked-in-memory", 300, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := newOrigin(t, clk, sized(tc.size, tc.chunked))
			f := newDiskFront(t, clk, o, diskSetup{}, nil)
			want := bodyOf(1, tc.size)
			resp, body := f.do(t, "GET", "/obj", "")
			if !bytes.Equal([]byte(body), want) || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
				t.Fatalf("miss: %d bytes, Cache-Status %q", len(body), resp.Header.Get("Cache-Status"))
			}
			files, total := diskFiles(t, f.cache.Store())
			if tc.wantDisk != (len(files) == 1) || (tc.wantDisk && total != int64(tc.size)) {
				t.Fatalf("files %v (%d bytes); want on disk: %v", files, total, tc.wantDisk)
			}
			if got := f.cache.Store().DiskUsed(); tc.wantDisk && got != int64(tc.size) || !tc.wantDisk && got != 0 {
				t.Fatalf("DiskUsed %d", got)
			}
			if u := f.cache.Store().Used(); tc.wantDisk && u >= int64(tc.size)+entryOverhead {
				t.Fatalf("memory used %d counts the body on disk", u)
			}

			resp, body = f.do(t, "GET", "/obj", "")
			if !bytes.Equal([]byte(body), want) || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
				t.Fatalf("hit: %d bytes, Cache-Status %q", len(body), resp.Header.Get("Cache-Status"))
			}
			if resp.Header.Get("X-Test") != "yes" || resp.Header.Get("Content-Type") != "application/octet-stream" ||
				resp.Header.Get("Etag") != `"e1"` || resp.Header.Get("Age") == "" || resp.ContentLength != int64(tc.size) {
				t.Fatalf("hit headers: %v (length %d)", resp.Header, resp.ContentLength)
			}

			resp, body = f.do(t, "GET", "/obj", "", "Range", "bytes=100-199")
			if resp.StatusCode != http.StatusPartialContent || body != string(want[100:200]) ||
				resp.Header.Get("Content-Range") != "bytes 100-199/"+strconv.Itoa(tc.size) {
				t.Fatalf("range: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Range"), body)
			}
			resp, body = f.do(t, "GET", "/obj", "", "Range", "bytes=-10")
			if resp.StatusCode != http.StatusPartialContent || body != string(want[tc.size-10:]) {
				t.Fatalf("suffix range: %d %q", resp.StatusCode, body)
			}

			resp, body = f.do(t, "HEAD", "/obj", "")
			if resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != int64(tc.size) {
				t.Fatalf("head: %d, length %d, body %q", resp.StatusCode, resp.ContentLength, body)
			}
			if n := o.count.Load(); n != 1 {
				t.Fatalf("upstream requests %d, want 1", n)
			}
		})
	}
}

// TestDiskStoreBound: the disk bound evicts least recently used files
// (and their entries); what is on disk never exceeds it, and files no
// entry uses are deleted.
func TestDiskStoreBound(t *testing.T) {
	type step struct {
		path     string
		wantHit  bool
		wantGone []string // paths no longer stored after the step
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"fifo-without-hits", []step{
			{path: "/0"}, {path: "/1"}, {path: "/2"},
			{path: "/3", wantGone: []string{"/0"}},
			{path: "/4", wantGone: []string{"/0", "/1"}},
		}},
		{"hit-makes-recent", []step{
			{path: "/0"}, {path: "/1"}, {path: "/2"},
			{path: "/0", wantHit: true},
			{path: "/3", wantGone: []string{"/1"}},
			{path: "/4", wantGone: []string{"/1", "/2"}},
			{path: "/0", wantHit: true},
		}},
	}
	const size, capacity = 3000, 10000 // three objects fit, four do not
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := newOrigin(t, clk, sized(size, false))
			f := newDiskFront(t, clk, o, diskSetup{disk: capacity}, nil)
			st := f.cache.Store()
			for i, s := range tc.steps {
				resp, _ := f.do(t, "GET", s.path, "")
				if hit := strings.Contains(resp.Header.Get("Cache-Status"), "hit"); hit != s.wantHit {
					t.Fatalf("step %d %s: Cache-Status %q, want hit %v", i, s.path, resp.Header.Get("Cache-Status"), s.wantHit)
				}
				files, total := diskFiles(t, st)
				if total > capacity || st.DiskUsed() > capacity || total != st.DiskUsed() || len(files) != st.Len() {
					t.Fatalf("step %d: %d files, %d bytes on disk, DiskUsed %d, %d entries (bound %d)", i, len(files), total, st.DiskUsed(), st.Len(), capacity)
				}
				for _, p := range s.wantGone {
					if f.stored(p) {
						t.Fatalf("step %d: %s still stored", i, p)
					}
				}
			}
		})
	}
	t.Run("object-larger-than-disk", func(t *testing.T) {
		clk := newClock()
		o := newOrigin(t, clk, sized(5000, false))
		f := newDiskFront(t, clk, o, diskSetup{disk: 4000}, nil)
		f.do(t, "GET", "/big", "")
		if files, _ := diskFiles(t, f.cache.Store()); len(files) != 0 || f.cache.Store().Len() != 0 {
			t.Fatalf("stored an object larger than the disk: files %v", files)
		}
	})
}

// TestDiskStoreNoPartialFiles: a response cut off, or one that outgrows
// max_object_size, leaves no file (temporary or final) behind.
func TestDiskStoreNoPartialFiles(t *testing.T) {
	cut := func(chunked bool) originFunc {
		return func(n int, w http.ResponseWriter, r *http.Request, _ time.Time) {
			w.Header().Set("Cache-Control", "max-age=60")
			if !chunked {
				w.Header().Set("Content-Length", "8000")
			}
			_, _ = w.Write(bodyOf(n, 3000))
			w.(http.Flusher).Flush()
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}
	}
	cases := []struct {
		name   string
		origin originFunc
		maxObj int64
	}{
		{"cut-off-declared", cut(false), 0},
		{"cut-off-chunked", cut(true), 0},
		{"outgrows-max-object-size", sized(6000, true), 4000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := newOrigin(t, clk, tc.origin)
			f := newDiskFront(t, clk, o, diskSetup{maxObj: tc.maxObj}, nil)
			for range 2 {
				req, _ := http.NewRequest("GET", f.srv.URL+"/cut", nil)
				tr := &http.Transport{}
				if resp, err := tr.RoundTrip(req); err == nil {
					_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
					resp.Body.Close()
				}
				tr.CloseIdleConnections()
			}
			// The fill's file is discarded before the handler returns
			// or panics, so before the client sees the end.
			if files, _ := diskFiles(t, f.cache.Store()); len(files) != 0 || f.cache.Store().Len() != 0 {
				t.Fatalf("left behind: files %v, %d entries", files, f.cache.Store().Len())
			}
			if n := o.count.Load(); n != 2 {
				t.Fatalf("upstream %d, want 2 (nothing stored)", n)
			}
		})
	}
}

// TestDiskStoreRemoval: purges and invalidation delete the files; a 304
// revalidation keeps the file the refreshed entry shares.
func TestDiskStoreRemoval(t *testing.T) {
	tok := []string{"X-Purge-Token", "s3cret"}
	cases := []struct {
		name      string
		method    string
		path      string
		hdr       []string
		wantFiles int
	}{
		{"purge-url", "PURGE", "/a/1", tok, 1},
		{"purge-prefix", "PURGE", "/a/*", tok, 0},
		{"purge-tag", "PURGE", "/", append([]string{"X-Purge-Tag", "big"}, tok...), 0},
		{"post-invalidates", "POST", "/a/2", nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
				if r.Method == http.MethodPost {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				sized(4000, false, "Surrogate-Key", "big")(n, w, r, now)
			})
			f := newDiskFront(t, clk, o, diskSetup{}, func(op *Options) { op.Purge.Token = "s3cret" })
			f.do(t, "GET", "/a/1", "")
			f.do(t, "GET", "/a/2", "")
			if files, _ := diskFiles(t, f.cache.Store()); len(files) != 2 {
				t.Fatalf("files %v, want 2", files)
			}
			resp, _ := f.do(t, tc.method, tc.path, "", tc.hdr...)
			if resp.StatusCode >= 300 {
				t.Fatalf("%s %s: %d", tc.method, tc.path, resp.StatusCode)
			}
			files, total := diskFiles(t, f.cache.Store())
			if len(files) != tc.wantFiles || f.cache.Store().Len() != tc.wantFiles || total != f.cache.Store().DiskUsed() {
				t.Fatalf("after %s: files %v, %d entries, DiskUsed %d; want %d", tc.name, files, f.cache.Store().Len(), f.cache.Store().DiskUsed(), tc.wantFiles)
			}
		})
	}
	t.Run("revalidated-304-keeps-file", func(t *testing.T) {
		clk := newClock()
		o := newOrigin(t, clk, func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			if r.Header.Get("If-None-Match") == `"e1"` {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("ETag", `"e1"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			sized(4000, false)(n, w, r, now)
		})
		f := newDiskFront(t, clk, o, diskSetup{}, nil)
		f.do(t, "GET", "/r", "")
		clk.Add(2 * time.Minute)
		resp, body := f.do(t, "GET", "/r", "")
		if !strings.Contains(resp.Header.Get("Cache-Status"), "fwd-status=304") || body != string(bodyOf(1, 4000)) {
			t.Fatalf("revalidation: %q, %d bytes", resp.Header.Get("Cache-Status"), len(body))
		}
		resp, body = f.do(t, "GET", "/r", "")
		files, _ := diskFiles(t, f.cache.Store())
		if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || body != string(bodyOf(1, 4000)) || len(files) != 1 || o.count.Load() != 2 {
			t.Fatalf("after 304: %q, %d bytes, files %v, upstream %d", resp.Header.Get("Cache-Status"), len(body), files, o.count.Load())
		}
	})
}

// TestDiskStoreLostFile: a body file that disappears between lookup and
// read (evicted or purged concurrently) makes the request a miss, never a
// broken response.
func TestDiskStoreLostFile(t *testing.T) {
	clk := newClock()
	o := newOrigin(t, clk, sized(4000, false))
	f := newDiskFront(t, clk, o, diskSetup{}, nil)
	f.do(t, "GET", "/x", "")
	st := f.cache.Store()
	st.mu.Lock()
	for _, b := range st.buckets {
		for _, e := range b {
			e.disk.markDeleted() // as a concurrent purge would, after the lookup
		}
	}
	st.mu.Unlock()
	resp, body := f.do(t, "GET", "/x", "")
	if body != string(bodyOf(2, 4000)) || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
		t.Fatalf("lost file: %q, body %d bytes", resp.Header.Get("Cache-Status"), len(body))
	}
}
