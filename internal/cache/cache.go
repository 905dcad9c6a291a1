package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxObjectSize = 10 << 20
	DefaultHeuristicMax  = 24 * time.Hour
	DefaultLockTimeout   = 5 * time.Second
	DefaultPostMaxBody   = 1 << 20
)

// ErrOptions is wrapped by New's errors about invalid options.
var ErrOptions = errors.New("cache: invalid options")

// Options configure a Cache. Zero values take the defaults above.
type Options struct {
	// Now is the clock (default time.Now): every freshness decision uses it.
	Now func() time.Time
	// After bounds how long a coalesced request waits (default time.After).
	After func(time.Duration) <-chan time.Time
	// Logger receives background revalidation failures (default: discard).
	Logger *slog.Logger
	// MaxObjectSize is the largest body stored; larger responses stream
	// through uncached. At most the store's capacity (with a disk store,
	// the larger of its capacity and the disk's).
	MaxObjectSize int64
	// DiskMinObjectSize is the smallest body kept in the store's disk
	// store (default DefaultDiskMinObjectSize); smaller ones stay in
	// memory. Unused when the store has no disk.
	DiskMinObjectSize int64
	// DefaultTTL, when positive, replaces the Last-Modified heuristic
	// (RFC 9111 §4.2.2) for responses without explicit freshness.
	DefaultTTL time.Duration
	// HeuristicMax caps the heuristic lifetime.
	HeuristicMax time.Duration
	// StaleWhileRevalidate and StaleIfError are the RFC 5861 windows used
	// when a response names none (0: none).
	StaleWhileRevalidate, StaleIfError time.Duration
	// LockTimeout bounds how long a request waits for a concurrent miss on
	// the same key before going upstream itself.
	LockTimeout time.Duration
	Key         KeyOptions
	Post        PostOptions
	Purge       PurgeOptions
	// ForceTTL overrides the freshness lifetime per status code (and makes
	// that status storable without explicit freshness); an operator
	// override, never a default.
	ForceTTL map[int]time.Duration
	// IgnoreDirectives lists response directives to ignore: no-cache,
	// no-store, private, must-revalidate, max-age, s-maxage.
	IgnoreDirectives []string
	// Publish, when set, sends a local purge to the other instances.
	Publish func(PurgeMessage)
}

// Cache is a shared HTTP cache over one Store. Its Handler method is the
// middleware. Safe for concurrent use.
type Cache struct {
	store   *Store
	opts    Options
	flights flights
	bg      sync.WaitGroup
}

// New returns a cache over store. It validates opts (ErrOptions).
func New(store *Store, opts Options) (*Cache, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrOptions)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxObjectSize == 0 {
		opts.MaxObjectSize = DefaultMaxObjectSize
	}
	limit := store.Capacity()
	if d := store.Disk(); d != nil {
		limit = max(limit, d.Capacity())
		if opts.DiskMinObjectSize == 0 {
			opts.DiskMinObjectSize = DefaultDiskMinObjectSize
		}
	}
	opts.MaxObjectSize = min(opts.MaxObjectSize, limit)
	if opts.HeuristicMax == 0 {
		opts.HeuristicMax = DefaultHeuristicMax
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Post.MaxBody == 0 {
		opts.Post.MaxBody = DefaultPostMaxBody
	}
	switch {
	case opts.MaxObjectSize < 0:
		return nil, fmt.Errorf("%w: max_object_size is negative", ErrOptions)
	case opts.DiskMinObjectSize < 0:
		return nil, fmt.Errorf("%w: disk.min_object_size is negative", ErrOptions)
	case opts.DefaultTTL < 0, opts.HeuristicMax < 0, opts.StaleIfError < 0, opts.StaleWhileRevalidate < 0, opts.LockTimeout < 0:
		return nil, fmt.Errorf("%w: negative duration", ErrOptions)
	case opts.Post.MaxBody < 0:
		return nil, fmt.Errorf("%w: post.max_body is negative", ErrOptions)
	}
	for code, d := range opts.ForceTTL {
		if code < 200 || code > 599 || d < 0 {
			return nil, fmt.Errorf("%w: force_ttl %d: %v", ErrOptions, code, d)
		}
	}
	for _, d := range opts.IgnoreDirectives {
		switch d {
		case "no-cache", "no-store", "private", "must-revalidate", "max-age", "s-maxage":
		default:
			return nil, fmt.Errorf("%w: ignore_directives: %q is not one of no-cache, no-store, private, must-revalidate, max-age, s-maxage", ErrOptions, d)
		}
	}
	if err := opts.Purge.compile(); err != nil {
		return nil, err
	}
	return &Cache{store: store, opts: opts}, nil
}

// Store returns the cache's store.
func (c *Cache) Store() *Store { return c.store }

// Wait blocks until background revalidations started so far are done
// (tests, shutdown).
func (c *Cache) Wait() { c.bg.Wait() }

func (c *Cache) now() time.Time { return c.opts.Now() }

// Handler returns next behind the cache.
func (c *Cache) Handler(next http.Handler) http.Handler { return &handler{c: c, next: next} }

type handler struct {
	c    *Cache
	next http.Handler
}

// reqState is what one request carries through the cache.
type reqState struct {
	r            *http.Request
	key, variant string
	reqCC        Directives
	auth         bool
	post         bool
	reqTime      time.Time
	fwd          string // RFC 9211 fwd value when forwarded
	collapsed    bool
	noStore      string // a reason not to store whatever comes back
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	var bodyHash string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case "PURGE":
		if c.opts.Purge.enabled() {
			c.servePurge(w, r)
			return
		}
		c.serveUnsafe(w, r, h.next)
		return
	case http.MethodPost:
		if !c.opts.Post.Enabled {
			c.serveUnsafe(w, r, h.next)
			return
		}
		hash, ok := c.bodyHash(r)
		if !ok {
			c.bypass(w, r, h.next, "body")
			return
		}
		bodyHash = hash
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		// Safe methods that are not cacheable (RFC 9110 §9.2.1).
		h.next.ServeHTTP(w, r)
		return
	default:
		c.serveUnsafe(w, r, h.next)
		return
	}
	if r.Header.Get("Upgrade") != "" {
		h.next.ServeHTTP(w, r) // WebSocket and other upgrades
		return
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // §4.3.5: HEAD is answered from a stored GET
	}
	rs := &reqState{
		r:       r,
		key:     c.requestKey(r),
		variant: c.variantKey(r, method, bodyHash),
		reqCC:   ParseCacheControl(r.Header["Cache-Control"]),
		auth:    r.Header.Get("Authorization") != "",
		post:    bodyHash != "",
	}
	if r.Method == http.MethodHead {
		// A HEAD response has no body: it cannot become a stored GET.
		rs.noStore = whyMethod
	}
	e, any := c.store.lookup(rs.key, rs.variant, r.Header)
	if e == nil {
		rs.fwd = "uri-miss"
		if any {
			rs.fwd = "vary-miss"
		}
		c.miss(w, r, rs, h.next)
		return
	}
	c.serveStored(w, r, rs, e, h.next)
}

// bypass forwards a request the cache does not handle, marking it.
func (c *Cache) bypass(w http.ResponseWriter, r *http.Request, next http.Handler, why string) {
	rs := &reqState{r: r, fwd: "bypass", noStore: why}
	c.fetch(w, r, rs, next, nil)
}

// fetch forwards r and streams the response to w, storing it when
// allowed. swallow is passed to the fillWriter.
func (c *Cache) fetch(w http.ResponseWriter, r *http.Request, rs *reqState, next http.Handler, swallow func(int) bool) *fillWriter {
	rs.reqTime = c.now()
	fw := &fillWriter{w: w, c: c, rs: rs, swallow: swallow, declared: -1}
	// A panic (a backend cut off mid-body) skips finish: the temporary
	// file of a disk fill must still go.
	defer fw.discard()
	next.ServeHTTP(fw, r)
	if !fw.headDone {
		fw.WriteHeader(http.StatusOK)
	}
	fw.finish(true)
	return fw
}

// coalescable says whether concurrent misses like this one may share one
// upstream request: only requests that could fill the store, and never
// ones with credentials (their responses are rarely shared).
func coalescable(r *http.Request, rs *reqState) bool {
	return r.Method != http.MethodHead && !rs.auth && !rs.reqCC.NoStore && rs.noStore == ""
}

// miss handles a request with no stored response.
func (c *Cache) miss(w http.ResponseWriter, r *http.Request, rs *reqState, next http.Handler) {
	if rs.reqCC.OnlyIfCached {
		c.gatewayTimeout(w, "gatehouse; fwd=miss; detail=only-if-cached")
		return
	}
	if !coalescable(r, rs) {
		c.fetch(w, r, rs, next, nil)
		return
	}
	fk := rs.key + "\x00" + rs.variant
	fl, leader := c.flights.join(fk)
	if leader {
		defer c.flights.leave(fk, fl)
		c.fetch(w, r, rs, next, nil)
		return
	}
	select {
	case <-fl.done:
		if e, _ := c.store.lookup(rs.key, rs.variant, r.Header); e != nil {
			rs.collapsed = true
			c.serveStored(w, r, rs, e, next)
			return
		}
	case <-c.opts.After(c.opts.LockTimeout):
	case <-r.Context().Done():
		return
	}
	c.fetch(w, r, rs, next, nil)
}

// gatewayTimeout answers only-if-cached without a usable stored response
// (RFC 9111 §5.2.1.7).
func (c *Cache) gatewayTimeout(w http.ResponseWriter, status string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Status", status)
	w.WriteHeader(http.StatusGatewayTimeout)
	_, _ = w.Write([]byte("not in cache\n"))
}
