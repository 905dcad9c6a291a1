package cache

import (
	"mime"
	"net/http"
	"strings"
)

// understoodStatus lists the status codes whose caching rules this cache
// implements fully; must-understand (RFC 9111 §5.2.2.3) lets a response
// with one of them be stored even with no-store.
func understoodStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 501:
		return true
	}
	return false
}

// Reasons a response is not stored, for Cache-Status detail and tests.
const (
	whyStatus       = "status"
	whyNoStore      = "no-store"
	whyPrivate      = "private"
	whyAuth         = "authorization"
	whyVaryStar     = "vary-star"
	whyEventStream  = "event-stream"
	whySetCookie    = "set-cookie"
	whyNoFreshness  = "no-freshness"
	whyUnderstand   = "must-understand"
	whyReqNoStore   = "request-no-store"
	whyTooLarge     = "too-large"
	whyPartial      = "partial"
	whyNotModified  = "not-modified"
	whyInformation  = "interim"
	whyMethod       = "method"
	whyContentRange = "content-range"
)

// storable applies RFC 9111 §3 for a shared cache to a response with
// status and header h (its Cache-Control already parsed into cc, operator
// ignores applied) to a request with Cache-Control req and auth saying
// whether it carried Authorization. It returns "" when the response may be
// stored, else the reason.
func (c *Cache) storable(req Directives, auth bool, status int, h http.Header, cc Directives) string {
	switch {
	case req.NoStore:
		// §5.2.1.5: nothing of this request or its response is stored.
		return whyReqNoStore
	case status < 200:
		return whyInformation
	case status == http.StatusPartialContent:
		// §3.3-3.4: a partial response is never stored as the full one.
		return whyPartial
	case status == http.StatusNotModified:
		return whyNotModified
	case h.Get("Content-Range") != "":
		return whyContentRange
	}
	if cc.MustUnderstand {
		// §5.2.2.3: store only if the status code is understood; then
		// no-store is to be ignored.
		if !understoodStatus(status) {
			return whyUnderstand
		}
	} else if cc.NoStore {
		return whyNoStore
	}
	if cc.Private {
		// §5.2.2.7: a shared cache never stores a private response (the
		// qualified form only strips the named fields, see stripFields).
		return whyPrivate
	}
	if auth && !cc.Public && cc.SMaxAge < 0 && !cc.MustRevalidate {
		// §3.5: a response to a request with Authorization is stored by a
		// shared cache only if public, s-maxage or must-revalidate say so.
		return whyAuth
	}
	for _, v := range h.Values("Vary") {
		if strings.Contains(v, "*") {
			// §4.1: Vary: * never matches; storing it is pointless.
			return whyVaryStar
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "text/event-stream" {
			// An event stream is a live feed, never a document.
			return whyEventStream
		}
	}
	if len(h["Set-Cookie"]) > 0 && !fieldListed(cc, "Set-Cookie") {
		// Choice: RFC 9111 allows storing Set-Cookie, but handing one
		// client's cookie to every client leaks sessions. Stored only when
		// no-cache="Set-Cookie" or private="Set-Cookie" strips it.
		return whySetCookie
	}
	if _, forced := c.opts.ForceTTL[status]; forced {
		return ""
	}
	// §3: explicit freshness, public, or a heuristically cacheable status.
	if cc.Public || cc.MaxAge >= 0 || cc.SMaxAge >= 0 || len(h["Expires"]) > 0 || heuristicStatus(status) {
		return ""
	}
	return whyStatus
}

func fieldListed(cc Directives, name string) bool {
	for _, f := range cc.NoCacheFields {
		if f == name {
			return true
		}
	}
	for _, f := range cc.PrivateFields {
		if f == name {
			return true
		}
	}
	return false
}

// stripFields removes what a shared cache must not keep: the fields named
// by private="..." (§5.2.2.7) and no-cache="..." (§5.2.2.4: they may not be
// reused without revalidation; this cache never reuses them, so the rest
// of the response is served without them), and the fields §3.1 excludes
// from storage (hop-by-hop ones, already removed by the proxy).
func stripFields(h http.Header, cc Directives) {
	for _, f := range cc.PrivateFields {
		delete(h, f)
	}
	for _, f := range cc.NoCacheFields {
		delete(h, f)
	}
	delete(h, "Connection")
	delete(h, "Keep-Alive")
	delete(h, "Proxy-Connection")
	delete(h, "Transfer-Encoding")
	delete(h, "Upgrade")
	delete(h, "Trailer")
}

// applyIgnores drops the response directives the operator told the cache
// to ignore (a misbehaving backend), an explicit per-route override.
func (c *Cache) applyIgnores(cc *Directives) {
	for _, d := range c.opts.IgnoreDirectives {
		switch d {
		case "no-cache":
			cc.NoCache, cc.NoCacheFields = false, nil
		case "no-store":
			cc.NoStore = false
		case "private":
			cc.Private, cc.PrivateFields = false, nil
		case "must-revalidate":
			cc.MustRevalidate, cc.ProxyRevalidate = false, false
		case "max-age":
			cc.MaxAge = -1
		case "s-maxage":
			cc.SMaxAge = -1
		}
	}
}
