package headers

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter applies the response edits once, just before the final
// response head goes out. It keeps streaming and upgrades working: Flush,
// Hijack and Unwrap (for http.ResponseController) reach the wrapped writer.
type responseWriter struct {
	http.ResponseWriter
	req   *http.Request
	edits *compiled
	wrote bool
}

// WriteHeader edits the header map before a final status. Interim 1xx
// responses (RFC 9110 section 15.2) pass unedited: edits describe the
// final response. 101 Switching Protocols is final for net/http, so it is
// edited.
func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.wrote = true
		apply(w.edits, w.ResponseWriter.Header(), w.req)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the wrapped writer's sendfile path (static files).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.before()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush sends the head (edited) and whatever is buffered: SSE events
// leave as they are written.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	w.before()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket). The edits are not applied:
// whoever hijacks writes the response head itself.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) before() {
	if !w.wrote {
		w.wrote = true
		apply(w.edits, w.ResponseWriter.Header(), w.req)
	}
}

// writerOnly hides the ReadFrom of its writer, so io.Copy does not loop.
type writerOnly struct{ io.Writer }
