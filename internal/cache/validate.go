package cache

import (
	"net/http"
	"strconv"
	"strings"
)

// revalidate sends a conditional request for e upstream (RFC 9111 §4.3.1:
// If-None-Match with its ETag, If-Modified-Since with its Last-Modified).
// A 304 updates the stored headers (§4.3.4) and e is served; a full
// response replaces e and streams to the client; a 5xx or a failure
// within the stale-if-error window (RFC 5861 §4) serves e stale.
func (c *Cache) revalidate(w http.ResponseWriter, r *http.Request, rs *reqState, e *Entry, next http.Handler) {
	out := r.Clone(r.Context())
	// The client's own conditionals and Range are answered from the
	// refreshed entry; upstream gets only the cache's validators.
	for _, k := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		delete(out.Header, k)
	}
	validators := false
	if e.etag != "" {
		out.Header.Set("If-None-Match", e.etag)
		validators = true
	}
	if lm := e.Header.Get("Last-Modified"); lm != "" {
		out.Header.Set("If-Modified-Since", lm)
		validators = true
	}
	staleIfError := func() bool {
		if !e.mayServeStale() {
			return false
		}
		stale := e.Age(c.now()) - e.lifetime
		w := staleWindow(e.cc.StaleIfError, rs.reqCC.StaleIfError, c.opts.StaleIfError)
		return w > 0 && stale <= w
	}
	swallow := func(status int) bool {
		switch status {
		case http.StatusNotModified:
			return validators
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return staleIfError()
		}
		return false
	}
	fw := c.fetch(w, out, rs, next, swallow)
	if !fw.swallowed {
		return
	}
	if fw.status != http.StatusNotModified {
		if !c.serveEntry(w, r, rs, e, c.now(), "gatehouse; fwd=stale; fwd-status="+strconv.Itoa(fw.status)+"; detail=stale-if-error") {
			// The stale body's file is gone: the backend's error is all
			// there is (its body was not kept).
			c.store.Remove(e)
			addCacheStatus(w.Header(), "gatehouse; fwd=stale; fwd-status="+strconv.Itoa(fw.status))
			w.WriteHeader(fw.status)
		}
		return
	}
	merged := c.merge(e, fw.held, rs)
	if merged != nil && !rs.reqCC.NoStore {
		c.store.Put(merged)
	}
	if merged == nil || !c.serveEntry(w, r, rs, merged, c.now(), "gatehouse; fwd="+rs.fwd+"; fwd-status=304") {
		// §4.3.4: the 304 validates a different representation (or
		// the body's file is gone); drop ours and fetch the full
		// response.
		c.store.Remove(e)
		if merged != nil {
			c.store.Remove(merged)
		}
		for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
			delete(out.Header, k)
		}
		c.fetch(w, out, rs, next, nil)
		return
	}
}

// merge applies a 304's header fields to a copy of e (RFC 9111 §3.2: every
// field replaces the stored one except Content-Length, and fields the
// stored body depends on), with the times of the validating exchange. It
// returns nil when the 304 carries a strong ETag other than e's (§4.3.4:
// it selects another stored response).
func (c *Cache) merge(e *Entry, h http.Header, rs *reqState) *Entry {
	if et := h.Get("Etag"); et != "" && e.etag != "" && !strings.HasPrefix(et, "W/") && et != e.etag {
		return nil
	}
	hdr := e.Header.Clone()
	for k, v := range h {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Range", "Transfer-Encoding", "Cache-Status":
			continue
		}
		hdr[k] = v
	}
	cc := ParseCacheControl(hdr["Cache-Control"])
	c.applyIgnores(&cc)
	stripFields(hdr, cc)
	n := &Entry{
		Key: e.Key, Variant: e.Variant, Status: e.Status, Header: hdr, Body: e.Body, disk: e.disk,
		ReqTime: rs.reqTime, RespTime: c.now(), cc: cc, vary: e.vary, varyVals: e.varyVals,
		etag: hdr.Get("Etag"), lastMod: e.lastMod,
	}
	if lm := hdr.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			n.lastMod = t
		}
	}
	n.tags = parseTags(hdr)
	n.lifetime = c.freshnessLifetime(n)
	n.initialAge = initialAge(n)
	n.computeSize()
	return n
}
