package hide

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
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
// swallows the backend's body. Flush, Hijack, ReadFrom and Unwrap (for
// http.ResponseController) reach the wrapped writer, so streaming and
// upgrades keep working.
type responseWriter struct {
	http.ResponseWriter
	h       *hider
	req     *http.Request
	wrote   bool
	discard bool // a 5xx body was replaced: the backend's bytes are dropped
}

// WriteHeader edits a final head. Interim 1xx responses (RFC 9110 section
// 15.2) pass unedited; 101 is final for net/http.
func (w *responseWriter) WriteHeader(code int) {
	if w.wrote {
		w.ResponseWriter.WriteHeader(code) // net/http logs the superfluous call
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.head(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.head(http.StatusOK)
	if w.discard {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the wrapped writer's sendfile path.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.head(http.StatusOK)
	if w.discard {
		return io.Copy(io.Discard, src)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush sends the head (edited) and whatever is buffered: server-sent
// events leave as they are written.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	w.head(http.StatusOK)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket); whoever hijacks writes
// the response head itself.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.wrote = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// head writes the final head once: headers removed, and for a 5xx with
// error_pages, Gatehouse's body in place of the backend's.
func (w *responseWriter) head(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	hd := w.ResponseWriter.Header()
	for _, name := range w.h.names {
		delete(hd, name)
	}
	if !w.h.errorPages || code < 500 || code > 599 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.discard = true
	var id string
	if info := observe.InfoFrom(w.req.Context()); info != nil {
		id = info.ID
	}
	for _, name := range representationHeaders {
		delete(hd, name)
	}
	body := protocol.ErrorBody(code, id)
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.h.log.LogAttrs(w.req.Context(), slog.LevelDebug, "hide: backend error page replaced",
		slog.String("request_id", id), slog.Int("status", code))
	w.ResponseWriter.WriteHeader(code)
	if w.req.Method != http.MethodHead {
		_, _ = w.ResponseWriter.Write(body)
	}
}

// writerOnly hides the ReadFrom of its writer, so io.Copy does not loop.
type writerOnly struct{ io.Writer }
