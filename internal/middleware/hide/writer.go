package hide

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// representationHeaders describe the backend's body; they go when the body
// is replaced (RFC 9110 section 8: they are metadata of the representation
// that is no longer sent). Trailer goes too: the replacement has none.
var representationHeaders = [...]string{
	"Content-Encoding", "Content-Language", "Content-Location", "Content-Range",
	"Content-Disposition", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest",
	"Etag", "Last-Modified", "Accept-Ranges", "Trailer", "Transfer-Encoding", "Expires",
}

// responseWriter edits the final response head and, for a replaced 5xx,
// swallows the backend's body. middleware.HeadWriter calls EditHead once
// and keeps Flush, Hijack and Unwrap (for http.ResponseController) working,
// so streaming and upgrades do; Write and ReadFrom are wrapped here to drop
// a replaced body.
type responseWriter struct {
	middleware.HeadWriter
	h       *hider
	req     *http.Request
	page    []byte // Gatehouse's error body, to send once the head is out
	discard bool   // a 5xx body was replaced: the backend's bytes are dropped
}

// WriteHeader writes the (edited) head, then Gatehouse's error body when
// EditHead replaced the backend's.
func (w *responseWriter) WriteHeader(code int) {
	w.HeadWriter.WriteHeader(code)
	if page := w.page; page != nil {
		w.page = nil
		if w.req.Method != http.MethodHead {
			_, _ = w.HeadWriter.ResponseWriter.Write(page)
		}
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.discard {
		return len(b), nil
	}
	return w.HeadWriter.Write(b)
}

// ReadFrom keeps the wrapped writer's sendfile path.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.discard {
		return io.Copy(io.Discard, src)
	}
	return w.HeadWriter.ReadFrom(src)
}

// EditHead removes the configured headers from the final head and, for a
// 5xx with error_pages, prepares Gatehouse's body in place of the
// backend's. Only an explicit WriteHeader carries a 5xx, so the body is
// written there.
func (w *responseWriter) EditHead(code int, hd http.Header) {
	for _, name := range w.h.names {
		delete(hd, name)
	}
	if !w.h.errorPages || code < 500 || code > 599 {
		return
	}
	w.discard = true
	for _, name := range representationHeaders {
		delete(hd, name)
	}
	id := middleware.RequestID(w.req)
	w.page = protocol.ErrorBody(code, id)
	protocol.SetErrorHeaders(hd, w.page)
	w.h.log.LogAttrs(w.req.Context(), slog.LevelDebug, "hide: backend error page replaced",
		slog.String("request_id", id), slog.Int("status", code))
}
