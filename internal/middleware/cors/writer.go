package cors

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// responseWriter sets the CORS headers on the final response head, after
// the backend's headers are in the map, so it can replace the backend's
// own. middleware.HeadWriter calls EditHead once and keeps Flush, Hijack,
// ReadFrom and Unwrap working, so streaming and upgrades do.
type responseWriter struct {
	middleware.HeadWriter
	h       *handler
	allowed bool
	origin  string // the request's Origin as sent, when allowed
}

// EditHead edits the header map of the final head.
func (w *responseWriter) EditHead(_ int, hd http.Header) {
	p := w.h.p
	if p.override {
		for _, name := range [...]string{hAllowOrigin, hAllowCredentials, hAllowMethods, hAllowHeaders, hExposeHeaders, hMaxAge} {
			delete(hd, name)
		}
	}
	if w.h.varies() {
		addVary(hd, "Origin")
	}
	if !w.allowed {
		return
	}
	w.h.setOrigin(hd, w.origin)
	if p.expose != "" {
		hd.Set(hExposeHeaders, p.expose)
	}
}
