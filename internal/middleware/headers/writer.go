package headers

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// responseWriter applies the response edits once, just before the final
// response head goes out. middleware.HeadWriter calls EditHead and keeps
// streaming and upgrades working: Flush, Hijack, ReadFrom and Unwrap (for
// http.ResponseController) reach the wrapped writer. A hijacked
// connection's head is not edited: whoever hijacks writes it.
type responseWriter struct {
	middleware.HeadWriter
	req   *http.Request
	edits *compiled
}

// EditHead applies the edits to the final head (101 Switching Protocols
// included; interim 1xx responses, RFC 9110 section 15.2, pass unedited).
func (w *responseWriter) EditHead(_ int, hd http.Header) { apply(w.edits, hd, w.req) }
