package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a fixed clock the test advances (no sleeps).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin is a real backend whose answer is a function of the request
// number n (1-based) and the request; it sets Date from the test clock.
type origin struct {
	srv   *httptest.Server
	count atomic.Int64
	mu    sync.Mutex
	last  *http.Request
}

type originFunc func(n int, w http.ResponseWriter, r *http.Request, now time.Time)

func newOrigin(t *testing.T, clk *clock, f originFunc) *origin {
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(o.count.Add(1))
		o.mu.Lock()
		o.last = r.Clone(r.Context())
		o.mu.Unlock()
		w.Header().Set("Date", clk.Now().Format(http.TimeFormat))
		f(n, w, r, clk.Now())
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) Last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// fixed answers every request with status, header pairs and body "v<n>".
func fixed(status int, hdr ...string) originFunc {
	return func(n int, w http.ResponseWriter, r *http.Request, _ time.Time) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, "v"+strconv.Itoa(n))
		}
	}
}

// front is the cache in front of a reverse proxy to the origin.
type front struct {
	srv   *httptest.Server
	cache *Cache
}

func newFront(t *testing.T, clk *clock, o *origin, mod func(*Options)) *front {
	t.Helper()
	st, err := NewStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Now: clk.Now}
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

// do sends one request; hdr are name/value pairs.
func (f *front) do(t *testing.T, method, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
