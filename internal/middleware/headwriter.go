package middleware

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// HeadEditor edits a response's final head just before it goes out.
type HeadEditor interface {
	// EditHead is called at most once per response, with the final status
	// (200 when the handler wrote, flushed or returned without calling
	// WriteHeader) and the header map about to be sent, which it may
	// change. It must not write to the response.
	EditHead(status int, h http.Header)
}

// HeadWriter is an http.ResponseWriter that lets its HeadEditor edit the
// final response head once, after the handler set its fields and before
// the head is written: the headers, hide and cors middleware edit the
// backend's response this way. Streaming and upgrades keep working:
// Flush (server-sent events leave as they are written), Hijack
// (WebSocket), ReadFrom (sendfile) and Unwrap (http.ResponseController:
// deadlines, full duplex) reach the wrapped writer.
//
// Interim 1xx responses (RFC 9110 §15.2) pass unedited: the edits describe
// the final response. 101 Switching Protocols is final for net/http, so it
// is edited. After a successful Hijack nothing is edited: whoever hijacks
// writes the head itself.
//
// Embed it in a middleware's own writer (no extra allocation per request)
// and set it with NewHeadWriter; the zero value is not usable. Not safe for
// concurrent use, like any http.ResponseWriter.
type HeadWriter struct {
	http.ResponseWriter
	editor HeadEditor
	done   bool // the head was edited, or will never be
}

// NewHeadWriter returns a HeadWriter over w that calls e.EditHead once.
// Both must be non-nil.
func NewHeadWriter(w http.ResponseWriter, e HeadEditor) HeadWriter {
	return HeadWriter{ResponseWriter: w, editor: e}
}

// WriteHeader edits the head of a final status, then writes it.
func (w *HeadWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.edit(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write edits the head (status 200 unless WriteHeader came first), then
// writes b.
func (w *HeadWriter) Write(b []byte) (int, error) {
	w.edit(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the wrapped writer's sendfile path (static files).
func (w *HeadWriter) ReadFrom(src io.Reader) (int64, error) {
	w.edit(http.StatusOK)
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush sends the head (edited) and whatever is buffered.
func (w *HeadWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls; it returns the
// wrapped writer's error (http.ErrNotSupported when it cannot flush).
func (w *HeadWriter) FlushError() error {
	w.edit(http.StatusOK)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket). The head is not edited:
// whoever hijacks writes it.
func (w *HeadWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.done = true
	}
	return c, brw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *HeadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Finish edits the head if nothing was written yet. Call it when the
// handler returned: net/http then sends a 200 head with the header map.
func (w *HeadWriter) Finish() { w.edit(http.StatusOK) }

// edit runs the editor once.
func (w *HeadWriter) edit(status int) {
	if w.done {
		return
	}
	w.done = true
	w.editor.EditHead(status, w.ResponseWriter.Header())
}

// writerOnly hides the ReadFrom of its writer, so io.Copy does not loop.
type writerOnly struct{ io.Writer }
