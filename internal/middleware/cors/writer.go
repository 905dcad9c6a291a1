package cors

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter sets the CORS headers on the final response head, after
// the backend's headers are in the map, so it can replace the backend's
// own. Flush, Hijack, ReadFrom and Unwrap (for http.ResponseController)
// reach the wrapped writer, so streaming and upgrades keep working.
type responseWriter struct {
	http.ResponseWriter
	h       *handler
	allowed bool
	origin  string // the request's Origin as sent, when allowed
	wrote   bool
}

// WriteHeader edits the head of a final response. Interim 1xx responses
// (RFC 9110 section 15.2) pass unedited; 101 is final for net/http.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.before()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the wrapped writer's sendfile path.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.before()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush sends the head (edited) and whatever is buffered.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	w.before()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket); whoever hijacks writes the
// head itself.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// before edits the header map once, before the final head goes out.
func (w *responseWriter) before() {
	if w.wrote {
		return
	}
	w.wrote = true
	hd := w.ResponseWriter.Header()
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

// writerOnly hides the ReadFrom of its writer, so io.Copy does not loop.
type writerOnly struct{ io.Writer }
