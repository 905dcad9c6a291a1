package cache

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// serveStored decides what to do with a stored response e for the request
// (RFC 9111 §4): serve it (fresh, or stale where allowed), serve it stale
// while revalidating in the background (RFC 5861), or validate it.
func (c *Cache) serveStored(w http.ResponseWriter, r *http.Request, rs *reqState, e *Entry, next http.Handler) {
	now := c.now()
	age := e.Age(now)
	life := e.lifetime
	req := rs.reqCC
	fresh := age < life
	// §5.2.1.1: request max-age bounds the age the client accepts.
	ageOK := req.MaxAge < 0 || age <= time.Duration(req.MaxAge)*time.Second
	// §4.2.4: an unqualified no-cache (either side) means validate first.
	mustValidate := e.cc.NoCache || req.NoCache
	if !mustValidate && ageOK {
		// §5.2.1.3: min-fresh asks for at least that much freshness left.
		freshOK := req.MinFresh < 0 || life-age >= time.Duration(req.MinFresh)*time.Second
		if fresh && freshOK {
			if !c.serveEntry(w, r, rs, e, now, hitStatus(rs, e, age, "")) {
				c.lost(w, r, rs, e, next)
			}
			return
		}
		stale := age - life
		if !fresh && e.mayServeStale() && req.MinFresh < 0 {
			// §5.2.1.2: max-stale lets the client take a stale response.
			if req.MaxStaleAny || (req.MaxStale >= 0 && stale <= time.Duration(req.MaxStale)*time.Second) {
				if !c.serveEntry(w, r, rs, e, now, hitStatus(rs, e, age, "stale")) {
					c.lost(w, r, rs, e, next)
				}
				return
			}
			// RFC 5861 §3: stale-while-revalidate.
			if win := staleWindow(e.cc.StaleWhileRevalidate, -1, c.opts.StaleWhileRevalidate); !rs.post && win > 0 && stale <= win {
				if !c.serveEntry(w, r, rs, e, now, hitStatus(rs, e, age, "stale-while-revalidate")) {
					c.lost(w, r, rs, e, next)
					return
				}
				c.backgroundRevalidate(r, rs, e, next)
				return
			}
		}
	}
	if req.OnlyIfCached {
		// §5.2.1.7: never forward; 504 when what is stored cannot be used.
		c.gatewayTimeout(w, "gatehouse; fwd=stale; detail=only-if-cached")
		return
	}
	rs.fwd = "stale"
	if fresh {
		rs.fwd = "request" // fresh, but the request's directives refused it
	}
	c.revalidate(w, r, rs, e, next)
}

func hitStatus(rs *reqState, e *Entry, age time.Duration, detail string) string {
	s := "gatehouse; hit; ttl=" + strconv.FormatInt(int64((e.lifetime-age)/time.Second), 10)
	if rs.collapsed {
		s += "; collapsed"
	}
	if detail != "" {
		s += "; detail=" + detail
	}
	return s
}

// lost handles an entry whose body file went away (evicted or purged
// between lookup and read): it is dropped and the request is a miss.
func (c *Cache) lost(w http.ResponseWriter, r *http.Request, rs *reqState, e *Entry, next http.Handler) {
	c.store.Remove(e)
	if rs.reqCC.OnlyIfCached {
		c.gatewayTimeout(w, "gatehouse; fwd=miss; detail=only-if-cached")
		return
	}
	rs.fwd = "uri-miss"
	c.fetch(w, r, rs, next, nil)
}

// serveEntry writes e to w with Age (§5.1, on every response from the
// cache) and Cache-Status. A stored 200 to GET/HEAD goes through
// http.ServeContent, which answers the client's own conditional requests
// (§4.3.2: If-None-Match, If-Modified-Since → 304) and Range requests
// (RFC 9110 §14: 206 from the stored full response, If-Range honoured);
// a body on disk is read from its file the same way. It returns false,
// having written nothing, when the body's file is gone.
func (c *Cache) serveEntry(w http.ResponseWriter, r *http.Request, rs *reqState, e *Entry, now time.Time, status string) bool {
	if _, ok := w.(*discardWriter); ok {
		return true // a background revalidation: no need to read the body
	}
	body, release, err := e.body()
	if err != nil {
		return false
	}
	defer release()
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v // stored slices are clipped: an append elsewhere copies
	}
	h["Age"] = []string{strconv.FormatInt(int64(e.Age(now)/time.Second), 10)}
	addCacheStatus(h, status)
	if e.Status == http.StatusOK && !rs.post {
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil // no sniffing: serve what was stored
		}
		delete(h, "Content-Length")
		http.ServeContent(w, r, "", e.lastMod, body)
		return true
	}
	h["Content-Length"] = []string{strconv.FormatInt(e.BodySize(), 10)}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, body)
	}
	return true
}

// backgroundRevalidate refreshes e without the client waiting (RFC 5861
// stale-while-revalidate). One per key at a time; the copy of the request
// outlives the client (its own RequestInfo, no cancellation).
func (c *Cache) backgroundRevalidate(r *http.Request, rs *reqState, e *Entry, next http.Handler) {
	fk := rs.key + "\x00" + rs.variant + "\x00bg"
	fl, leader := c.flights.join(fk)
	if !leader {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	if info := observe.InfoFrom(ctx); info != nil {
		cp := *info
		ctx = observe.WithInfo(ctx, &cp)
	}
	out := r.Clone(ctx)
	out.Method = http.MethodGet
	out.Body, out.ContentLength = http.NoBody, 0
	bg := *rs
	bg.r, bg.noStore, bg.fwd = out, "", "stale"
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer c.flights.leave(fk, fl)
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler { //nolint:errorlint // sentinel value, as net/http compares it
				c.opts.Logger.Error("cache: background revalidation panicked", "panic", p, "key", rs.key)
			}
		}()
		c.revalidate(newDiscardWriter(), out, &bg, e, next)
	}()
}

// discardWriter is the response writer of a background revalidation.
type discardWriter struct{ h http.Header }

func newDiscardWriter() *discardWriter               { return &discardWriter{h: http.Header{}} }
func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
