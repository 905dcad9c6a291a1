package cache

import (
	"net/http"
	"net/url"
	"strings"
)

// serveUnsafe forwards a request with an unsafe method and, when the
// response is not an error, invalidates the stored responses for its
// target URI and for same-origin Location and Content-Location targets
// (RFC 9111 §4.4). It runs even if the response was cut off: the request
// reached the origin and may have changed state.
func (c *Cache) serveUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rs := &reqState{r: r, fwd: "method", noStore: whyMethod}
	fw := &fillWriter{w: w, c: c, rs: rs, declared: -1}
	defer func() {
		if fw.status >= 200 && fw.status < 400 {
			c.invalidate(r, fw.Header())
		}
	}()
	rs.reqTime = c.now()
	next.ServeHTTP(fw, r)
	if !fw.headDone {
		fw.WriteHeader(http.StatusOK)
	}
}

func (c *Cache) invalidate(r *http.Request, h http.Header) {
	c.store.PurgeKey(c.requestKey(r))
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil {
			continue
		}
		host := r.Host
		if u.Host != "" {
			// §4.4: only same-origin targets, so one origin cannot purge
			// another's entries by naming them.
			if !strings.EqualFold(u.Host, r.Host) {
				continue
			}
			host = u.Host
		}
		u = r.URL.ResolveReference(u)
		c.store.PurgeKey(c.primaryKey(host, u.EscapedPath(), u.RawQuery))
	}
}
