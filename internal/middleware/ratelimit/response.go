package ratelimit

import (
	"net/http"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// writeError writes Gatehouse's short error body for status, with the
// request ID, as every error Gatehouse produces. Headers already set on w
// (Retry-After, RateLimit) are kept.
func writeError(w http.ResponseWriter, r *http.Request, status int) {
	var id string
	if info := observe.InfoFrom(r.Context()); info != nil {
		id = info.ID
	}
	body := protocol.ErrorBody(status, id)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	// A refusal is about this moment; a cache must not replay it
	// (RFC 9111 section 5.2.2.5).
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
