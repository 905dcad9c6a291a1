package cache

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// step is one request of a conformance case and what must come of it.
type step struct {
	advance  time.Duration
	method   string // default GET
	path     string // default /x
	hdr      []string
	body     string
	status   int    // want; default 200
	upstream int64  // want: backend requests so far
	wantBody string // "" = not checked
	cs       string // substring of Cache-Status; "" = not checked
	header   []string
	noHeader []string
	waitBG   bool // wait for background revalidation after the step
}

type confCase struct {
	name   string
	origin originFunc
	opts   func(*Options)
	steps  []step
}

const lmOld = "Mon, 02 Jan 2006 15:04:05 GMT"

// TestConformance is the RFC 9111 conformance table: one case per rule,
// named after its section, each driven through the real middleware in
// front of a real reverse proxy and backend, on a fixed clock.
func TestConformance(t *testing.T) {
	cases := []confCase{
		{name: "§3/GET-200-max-age-stored", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1, cs: "fwd=uri-miss; fwd-status=200; stored"},
			{upstream: 1, wantBody: "v1", cs: "gatehouse; hit"},
		}},
		{name: "§3/no-store", origin: fixed(200, "Cache-Control", "max-age=60, no-store"), steps: []step{
			{upstream: 1, cs: "detail=no-store"}, {upstream: 2, wantBody: "v2"},
		}},
		{name: "§3/private", origin: fixed(200, "Cache-Control", "private, max-age=60"), steps: []step{
			{upstream: 1}, {upstream: 2},
		}},
		{name: "§3.5/authorization-not-stored", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{hdr: []string{"Authorization", "Bearer a"}, upstream: 1, cs: "detail=authorization"},
			{hdr: []string{"Authorization", "Bearer a"}, upstream: 2},
		}},
		{name: "§3.5/authorization-public-stored", origin: fixed(200, "Cache-Control", "public, max-age=60"), steps: []step{
			{hdr: []string{"Authorization", "Bearer a"}, upstream: 1}, {upstream: 1, cs: "hit"},
		}},
		{name: "§3.5/authorization-s-maxage-stored", origin: fixed(200, "Cache-Control", "s-maxage=60"), steps: []step{
			{hdr: []string{"Authorization", "Bearer a"}, upstream: 1}, {upstream: 1, cs: "hit"},
		}},
		{name: "§3.5/authorization-must-revalidate-stored", origin: fixed(200, "Cache-Control", "max-age=60, must-revalidate"), steps: []step{
			{hdr: []string{"Authorization", "Bearer a"}, upstream: 1}, {upstream: 1, cs: "hit"},
		}},
		{name: "§3/302-without-freshness-not-stored", origin: fixed(302, "Location", "/y"), steps: []step{
			{status: 302, upstream: 1}, {status: 302, upstream: 2},
		}},
		{name: "§3/302-with-max-age-stored", origin: fixed(302, "Location", "/y", "Cache-Control", "max-age=60"), steps: []step{
			{status: 302, upstream: 1}, {status: 302, upstream: 1, cs: "hit", header: []string{"Location", "/y"}},
		}},
		{name: "§3/206-never-stored", origin: fixed(206, "Content-Range", "bytes 0-1/10", "Cache-Control", "max-age=60"), steps: []step{
			{status: 206, upstream: 1, cs: "detail=partial"}, {status: 206, upstream: 2},
		}},
		{name: "§3/event-stream-never-stored", origin: fixed(200, "Content-Type", "text/event-stream", "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1, cs: "detail=event-stream"}, {upstream: 2},
		}},
		{name: "§3/set-cookie-not-shared", origin: fixed(200, "Cache-Control", "max-age=60", "Set-Cookie", "s=1"), steps: []step{
			{upstream: 1}, {upstream: 2},
		}},
		{name: "§3/POST-not-stored-by-default", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{method: "POST", body: "a", upstream: 1, cs: "fwd=method"}, {method: "POST", body: "a", upstream: 2},
		}},
		{name: "§4.2.1/s-maxage-over-max-age", origin: fixed(200, "Cache-Control", "max-age=100, s-maxage=10"), steps: []step{
			{upstream: 1}, {advance: 5 * time.Second, upstream: 1}, {advance: 10 * time.Second, upstream: 2},
		}},
		{name: "§4.2.1/max-age-over-expires", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			w.Header().Set("Expires", now.Add(time.Hour).Format(http.TimeFormat))
			fixed(200, "Cache-Control", "max-age=10")(n, w, r, now)
		}, steps: []step{{upstream: 1}, {advance: 20 * time.Second, upstream: 2}}},
		{name: "§4.2.1/expires-minus-date", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			w.Header().Set("Expires", now.Add(30*time.Second).Format(http.TimeFormat))
			fixed(200)(n, w, r, now)
		}, steps: []step{{upstream: 1}, {advance: 20 * time.Second, upstream: 1, cs: "hit"}, {advance: 20 * time.Second, upstream: 2}}},
		{name: "§5.3/invalid-expires-is-stale", origin: fixed(200, "Expires", "0"), steps: []step{
			{upstream: 1}, {upstream: 2},
		}},
		{name: "§4.2.2/heuristic-10pct-of-last-modified", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			w.Header().Set("Last-Modified", now.Add(-10*time.Hour).Format(http.TimeFormat))
			fixed(200)(n, w, r, now)
		}, steps: []step{{upstream: 1}, {advance: 50 * time.Minute, upstream: 1, cs: "hit"}, {advance: 20 * time.Minute, upstream: 2}}},
		{name: "§4.2.2/heuristic-capped", opts: func(o *Options) { o.HeuristicMax = time.Hour }, origin: fixed(200, "Last-Modified", lmOld), steps: []step{
			{upstream: 1}, {advance: 50 * time.Minute, upstream: 1}, {advance: 20 * time.Minute, upstream: 2},
		}},
		{name: "§4.2.2/no-heuristic-for-302", origin: fixed(302, "Location", "/z", "Last-Modified", lmOld), steps: []step{
			{status: 302, upstream: 1}, {status: 302, upstream: 2},
		}},
		{name: "§4.2.2/default-ttl-replaces-heuristic", opts: func(o *Options) { o.DefaultTTL = time.Minute }, origin: fixed(200), steps: []step{
			{upstream: 1}, {advance: 30 * time.Second, upstream: 1}, {advance: 31 * time.Second, upstream: 2},
		}},
		{name: "§4.2.3/age-header-counts", origin: fixed(200, "Cache-Control", "max-age=60", "Age", "50"), steps: []step{
			{upstream: 1}, {advance: 5 * time.Second, upstream: 1, header: []string{"Age", "55"}}, {advance: 10 * time.Second, upstream: 2},
		}},
		{name: "§4.2.3/clock-skew-date-in-future", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			fixed(200, "Cache-Control", "max-age=60")(n, w, r, now)
			w.Header().Set("Date", now.Add(time.Hour).Format(http.TimeFormat))
		}, steps: []step{{upstream: 1}, {advance: 30 * time.Second, upstream: 1, header: []string{"Age", "30"}}, {advance: 31 * time.Second, upstream: 2}}},
		{name: "§4.2.3/date-in-past-is-age", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			w.Header().Set("Date", now.Add(-50*time.Second).Format(http.TimeFormat))
			for k, v := range map[string]string{"Cache-Control": "max-age=60"} {
				w.Header().Set(k, v)
			}
			_, _ = w.Write([]byte("v"))
		}, steps: []step{{upstream: 1}, {advance: 5 * time.Second, upstream: 1, header: []string{"Age", "55"}}, {advance: 6 * time.Second, upstream: 2}}},
		{name: "§5.1/age-on-every-hit", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1}, {advance: 7 * time.Second, upstream: 1, header: []string{"Age", "7"}},
		}},
		{name: "§5.2.1.1/request-max-age", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1}, {advance: 10 * time.Second, hdr: []string{"Cache-Control", "max-age=5"}, upstream: 2, cs: "fwd=request"},
		}},
		{name: "§5.2.1.2/max-stale", origin: fixed(200, "Cache-Control", "max-age=10"), steps: []step{
			{upstream: 1}, {advance: 20 * time.Second, hdr: []string{"Cache-Control", "max-stale=30"}, upstream: 1, cs: "detail=stale"},
			{hdr: []string{"Cache-Control", "max-stale=5"}, upstream: 2},
		}},
		{name: "§5.2.1.3/min-fresh", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1}, {advance: 50 * time.Second, hdr: []string{"Cache-Control", "min-fresh=20"}, upstream: 2},
		}},
		{name: "§5.2.1.4/request-no-cache-validates", origin: etagOrigin("max-age=60"), steps: []step{
			{upstream: 1}, {hdr: []string{"Cache-Control", "no-cache"}, upstream: 2, wantBody: "v1", cs: "fwd-status=304"},
		}},
		{name: "§5.2.1.5/request-no-store", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{hdr: []string{"Cache-Control", "no-store"}, upstream: 1}, {upstream: 2},
		}},
		{name: "§5.2.1.7/only-if-cached-miss-504", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{hdr: []string{"Cache-Control", "only-if-cached"}, status: 504, upstream: 0},
		}},
		{name: "§5.2.1.7/only-if-cached-hit", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1}, {hdr: []string{"Cache-Control", "only-if-cached"}, upstream: 1, wantBody: "v1"},
		}},
		{name: "§4.3.1/if-none-match-upstream-and-§4.3.4-merge", origin: etagOrigin("max-age=10"), steps: []step{
			{upstream: 1}, {advance: 20 * time.Second, upstream: 2, wantBody: "v1", header: []string{"X-Validated", "2"}, cs: "fwd=stale; fwd-status=304"},
			{upstream: 2, cs: "hit", header: []string{"X-Validated", "2"}},
		}},
		{name: "§4.3.1/if-modified-since-upstream", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			w.Header().Set("Cache-Control", "max-age=10")
			if r.Header.Get("If-Modified-Since") == lmOld {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Last-Modified", lmOld)
			_, _ = w.Write([]byte("v1"))
		}, steps: []step{{upstream: 1}, {advance: 20 * time.Second, upstream: 2, wantBody: "v1", cs: "fwd-status=304"}}},
		{name: "§4.3.2/client-if-none-match-from-cache", origin: etagOrigin("max-age=60"), steps: []step{
			{upstream: 1}, {hdr: []string{"If-None-Match", `"e1"`}, status: 304, upstream: 1},
			{hdr: []string{"If-None-Match", `"other"`}, status: 200, upstream: 1},
		}},
		{name: "§4.3.2/client-if-modified-since-from-cache", origin: fixed(200, "Cache-Control", "max-age=60", "Last-Modified", lmOld), steps: []step{
			{upstream: 1}, {hdr: []string{"If-Modified-Since", lmOld}, status: 304, upstream: 1},
		}},
		{name: "§4.4/unsafe-method-invalidates", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1}, {method: "DELETE", upstream: 2}, {upstream: 3},
		}},
		{name: "§4.4/error-response-does-not-invalidate", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			if r.Method == "PUT" {
				w.WriteHeader(500)
				return
			}
			fixed(200, "Cache-Control", "max-age=60")(n, w, r, now)
		}, steps: []step{{upstream: 1}, {method: "PUT", status: 500, upstream: 2}, {upstream: 2, cs: "hit"}}},
		{name: "§4.4/location-same-origin-invalidated", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			if r.Method == "POST" {
				w.Header().Set("Location", "/x")
				w.WriteHeader(201)
				return
			}
			fixed(200, "Cache-Control", "max-age=60")(n, w, r, now)
		}, steps: []step{{upstream: 1}, {method: "POST", path: "/other", status: 201, upstream: 2}, {upstream: 3}}},
		{name: "§4.4/content-location-other-origin-ignored", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			if r.Method == "POST" {
				w.Header().Set("Content-Location", "http://evil.example/x")
				return
			}
			fixed(200, "Cache-Control", "max-age=60")(n, w, r, now)
		}, steps: []step{{upstream: 1}, {method: "POST", path: "/other", upstream: 2}, {upstream: 2, cs: "hit"}}},
		{name: "§4.1/vary-secondary-key", origin: fixed(200, "Cache-Control", "max-age=60", "Vary", "Accept-Language"), steps: []step{
			{hdr: []string{"Accept-Language", "en"}, upstream: 1},
			{hdr: []string{"Accept-Language", "fr"}, upstream: 2, cs: "fwd=vary-miss"},
			{hdr: []string{"Accept-Language", "en"}, upstream: 2, wantBody: "v1"},
			{hdr: []string{"Accept-Language", "fr"}, upstream: 2, wantBody: "v2"},
		}},
		{name: "§4.1/vary-star-never-served", origin: fixed(200, "Cache-Control", "max-age=60", "Vary", "*"), steps: []step{
			{upstream: 1, cs: "detail=vary-star"}, {upstream: 2},
		}},
		{name: "§5.2.2.4/no-cache-always-validates", origin: etagOrigin("no-cache"), steps: []step{
			{upstream: 1}, {upstream: 2, wantBody: "v1", cs: "fwd-status=304"}, {upstream: 3, wantBody: "v1"},
		}},
		{name: "§5.2.2.4/no-cache-with-fields-strips-them", origin: fixed(200, "Cache-Control", `max-age=60, no-cache="X-Secret"`, "X-Secret", "s", "X-Other", "o"), steps: []step{
			{upstream: 1, header: []string{"X-Secret", "s"}}, {upstream: 1, cs: "hit", header: []string{"X-Other", "o"}, noHeader: []string{"X-Secret"}},
		}},
		{name: "§5.2.2.7/private-with-fields-stores-rest", origin: fixed(200, "Cache-Control", `max-age=60, private="Set-Cookie"`, "Set-Cookie", "s=1"), steps: []step{
			{upstream: 1}, {upstream: 1, cs: "hit", noHeader: []string{"Set-Cookie"}},
		}},
		{name: "§5.2.2.2/must-revalidate-never-stale", opts: func(o *Options) { o.StaleIfError = time.Hour }, origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			if n > 1 {
				w.WriteHeader(503)
				return
			}
			fixed(200, "Cache-Control", "max-age=1, must-revalidate")(n, w, r, now)
		}, steps: []step{{upstream: 1}, {advance: 5 * time.Second, status: 503, upstream: 2}}},
		{name: "§5.2.2.3/must-understand-overrides-no-store", origin: fixed(200, "Cache-Control", "must-understand, no-store, max-age=60"), steps: []step{
			{upstream: 1}, {upstream: 1, cs: "hit"},
		}},
		{name: "§5.2.2.3/must-understand-unknown-status", origin: fixed(299, "Cache-Control", "must-understand, no-store, max-age=60"), steps: []step{
			{status: 299, upstream: 1}, {status: 299, upstream: 2},
		}},
		{name: "RFC5861§3/stale-while-revalidate", origin: fixed(200, "Cache-Control", "max-age=10, stale-while-revalidate=30"), steps: []step{
			{upstream: 1}, {advance: 20 * time.Second, wantBody: "v1", cs: "detail=stale-while-revalidate", waitBG: true, upstream: 2},
			{wantBody: "v2", upstream: 2, cs: "hit"},
		}},
		{name: "RFC5861§3/stale-while-revalidate-window-over", origin: fixed(200, "Cache-Control", "max-age=10, stale-while-revalidate=5"), steps: []step{
			{upstream: 1}, {advance: 20 * time.Second, wantBody: "v2", upstream: 2},
		}},
		{name: "RFC5861§4/stale-if-error", origin: func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
			if n > 1 {
				w.WriteHeader(502)
				return
			}
			fixed(200, "Cache-Control", "max-age=10, stale-if-error=60")(n, w, r, now)
		}, steps: []step{{upstream: 1}, {advance: 20 * time.Second, wantBody: "v1", upstream: 2, cs: "fwd-status=502; detail=stale-if-error"},
			{advance: 60 * time.Second, status: 502, upstream: 3}}},
		{name: "RFC9211/cache-status-on-every-response", origin: fixed(200, "Cache-Control", "max-age=60", "Cache-Status", "upstreamcache; hit"), steps: []step{
			{upstream: 1, cs: "upstreamcache; hit, gatehouse; fwd=uri-miss; fwd-status=200; stored"},
			{upstream: 1, cs: "upstreamcache; hit, gatehouse; hit; ttl=60"},
		}},
		{name: "§4.3.5/HEAD-from-stored-GET", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{upstream: 1}, {method: "HEAD", upstream: 1, wantBody: "", cs: "hit", header: []string{"Content-Length", "2"}},
		}},
		{name: "§4.3.5/HEAD-miss-not-stored", origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{method: "HEAD", upstream: 1}, {upstream: 2, wantBody: "v2"},
		}},
		{name: "RFC9110§14/range-from-stored-full", origin: fixed(200, "Cache-Control", "max-age=60", "Content-Type", "text/plain"), steps: []step{
			{upstream: 1}, {hdr: []string{"Range", "bytes=1-1"}, status: 206, wantBody: "1", upstream: 1, header: []string{"Content-Range", "bytes 1-1/2"}},
		}},
		{name: "override/force-ttl", opts: func(o *Options) { o.ForceTTL = map[int]time.Duration{404: time.Minute} }, origin: fixed(404, "Cache-Control", "max-age=1"), steps: []step{
			{status: 404, upstream: 1}, {advance: 30 * time.Second, status: 404, upstream: 1, cs: "hit"},
		}},
		{name: "override/ignore-no-cache", opts: func(o *Options) { o.IgnoreDirectives = []string{"no-cache", "no-store"} }, origin: fixed(200, "Cache-Control", "no-cache, no-store, max-age=60"), steps: []step{
			{upstream: 1}, {upstream: 1, cs: "hit"},
		}},
		{name: "key/sort-and-ignore-query", opts: func(o *Options) { o.Key = KeyOptions{SortQuery: true, IgnoreQuery: []string{"utm_*"}} }, origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{path: "/x?b=2&a=1&utm_source=x", upstream: 1}, {path: "/x?a=1&b=2", upstream: 1, cs: "hit"}, {path: "/x?a=1", upstream: 2},
		}},
		{name: "key/headers-and-cookies", opts: func(o *Options) { o.Key = KeyOptions{Headers: []string{"X-Tenant"}, Cookies: []string{"lang"}} }, origin: fixed(200, "Cache-Control", "max-age=60"), steps: []step{
			{hdr: []string{"X-Tenant", "a"}, upstream: 1}, {hdr: []string{"X-Tenant", "b"}, upstream: 2},
			{hdr: []string{"X-Tenant", "a", "Cookie", "lang=fr"}, upstream: 3}, {hdr: []string{"X-Tenant", "a"}, upstream: 3, wantBody: "v1"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runCase(t, tc)
		})
	}
}

// etagOrigin answers with ETag "e1" and cc, and with 304 (plus
// X-Validated: n) to a matching If-None-Match.
func etagOrigin(cc string) originFunc {
	return func(n int, w http.ResponseWriter, r *http.Request, now time.Time) {
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("Etag", `"e1"`)
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.Header().Set("X-Validated", strconv.Itoa(n))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fixed(200)(n, w, r, now)
	}
}

func runCase(t *testing.T, tc confCase) {
	clk := newClock()
	o := newOrigin(t, clk, tc.origin)
	f := newFront(t, clk, o, tc.opts)
	for i, s := range tc.steps {
		clk.Add(s.advance)
		method, path := s.method, s.path
		if method == "" {
			method = "GET"
		}
		if path == "" {
			path = "/x"
		}
		resp, body := f.do(t, method, path, s.body, s.hdr...)
		if s.waitBG {
			f.cache.Wait()
		}
		want := s.status
		if want == 0 {
			want = 200
		}
		if resp.StatusCode != want {
			t.Fatalf("step %d: status %d, want %d (Cache-Status %q)", i, resp.StatusCode, want, resp.Header.Get("Cache-Status"))
		}
		if got := o.count.Load(); got != s.upstream {
			t.Fatalf("step %d: upstream requests %d, want %d (Cache-Status %q)", i, got, s.upstream, resp.Header.Get("Cache-Status"))
		}
		if s.wantBody != "" || method == "HEAD" {
			if body != s.wantBody {
				t.Fatalf("step %d: body %q, want %q", i, body, s.wantBody)
			}
		}
		if s.cs != "" && !strings.Contains(resp.Header.Get("Cache-Status"), s.cs) {
			t.Fatalf("step %d: Cache-Status %q, want it to contain %q", i, resp.Header.Get("Cache-Status"), s.cs)
		}
		for j := 0; j+1 < len(s.header); j += 2 {
			if got := resp.Header.Get(s.header[j]); got != s.header[j+1] {
				t.Fatalf("step %d: %s %q, want %q", i, s.header[j], got, s.header[j+1])
			}
		}
		for _, h := range s.noHeader {
			if v, ok := resp.Header[h]; ok {
				t.Fatalf("step %d: %s present (%q), want it stripped", i, h, v)
			}
		}
		if strings.Contains(resp.Header.Get("Cache-Status"), "gatehouse; hit") && resp.Header.Get("Age") == "" {
			t.Fatalf("step %d: a response from the cache without Age (§5.1)", i)
		}
	}
}
