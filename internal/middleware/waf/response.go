package waf

import (
	"bufio"
	"fmt"
	"mime"
	"net"
	"net/http"

	"github.com/corazawaf/coraza/v3/types"
)

// Response states.
const (
	respInit    = iota // nothing written yet
	respBuffer         // holding back the body prefix for inspection
	respPass           // streaming to the client
	respRefused        // our error sent; the backend's body is discarded
)

// responseWriter runs the response phases (3 and 4) when response body
// inspection is on. It holds back the head and at most limit+1 bytes of an
// inspectable body (Content-Type in the configured list), evaluates them,
// and then either refuses the response or sends the head, the held bytes
// and everything after unbuffered. Event streams (RFC 8895 / WHATWG SSE,
// text/event-stream), 1xx and 101 responses and types not in the list are
// never held back. Flushes while holding back are deferred: a streamed
// response of an inspected type starts once limit bytes or its end arrive.
//
// Not safe for concurrent use, like any http.ResponseWriter.
type responseWriter struct {
	w        http.ResponseWriter
	r        *http.Request
	tx       types.Transaction
	limit    int
	blocking bool

	state   int
	code    int
	buf     []byte
	refused int // status sent instead of the backend's, 0 if none
}

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if rw.state != respInit {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Interim responses (RFC 9110 section 15.2) go out as they come.
		rw.w.WriteHeader(code)
		return
	}
	if code == http.StatusSwitchingProtocols {
		rw.state = respPass
		rw.w.WriteHeader(code)
		return
	}
	for k, vs := range rw.w.Header() {
		for _, v := range vs {
			rw.tx.AddResponseHeader(k, v)
		}
	}
	if it := rw.tx.ProcessResponseHeaders(code, rw.r.Proto); it != nil {
		rw.refuse(it)
		return
	}
	rw.code = code
	if !rw.inspectable(code) {
		rw.state = respPass
		rw.w.WriteHeader(code)
		return
	}
	rw.state = respBuffer
}

// inspectable: a body that exists (RFC 9110 sections 6.4.1, 9.3.2), is not
// an event stream, and has a type Coraza is configured to inspect.
func (rw *responseWriter) inspectable(code int) bool {
	if rw.r.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified {
		return false
	}
	mt, _, _ := mime.ParseMediaType(rw.w.Header().Get("Content-Type"))
	if mt == "text/event-stream" {
		return false
	}
	return rw.tx.IsResponseBodyProcessable()
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if rw.state == respInit {
		rw.WriteHeader(http.StatusOK)
	}
	switch rw.state {
	case respPass:
		return rw.w.Write(p)
	case respRefused:
		// Pretend success: an error would make the proxy abort the
		// connection and lose the refusal already written.
		return len(p), nil
	}
	room := rw.limit + 1 - len(rw.buf)
	if len(p) < room {
		rw.buf = append(rw.buf, p...)
		return len(p), nil
	}
	rw.buf = append(rw.buf, p[:room]...)
	if !rw.decide() {
		return len(p), nil
	}
	if room < len(p) {
		if _, err := rw.w.Write(p[room:]); err != nil {
			return room, err
		}
	}
	return len(p), nil
}

// decide runs phase 4 on the held bytes, then refuses or sends the head and
// the held bytes; it reports whether the response goes on.
func (rw *responseWriter) decide() bool {
	if _, _, err := rw.tx.WriteResponseBody(rw.buf); err == nil {
		it, err := rw.tx.ProcessResponseBody()
		if err == nil && it != nil {
			rw.refuse(it)
			return false
		}
	}
	rw.state = respPass
	rw.w.WriteHeader(rw.code)
	if len(rw.buf) > 0 {
		_, _ = rw.w.Write(rw.buf)
	}
	rw.buf = nil
	return true
}

func (rw *responseWriter) refuse(it *types.Interruption) {
	rw.state = respRefused
	rw.buf = nil
	status := http.StatusForbidden
	if it.Status >= 400 && it.Status < 500 {
		status = it.Status
	}
	rw.refused = status
	writeError(rw.w, rw.r, status, false)
}

// finish sends what is still held back once the handler returned.
func (rw *responseWriter) finish() {
	if rw.state == respInit {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.state == respBuffer {
		rw.decide()
	}
}

// Flush passes through once the response is streaming; while the body is
// held back it is deferred (see the type's comment).
func (rw *responseWriter) Flush() {
	_ = rw.FlushError()
}

// FlushError is Flush reporting the error, for http.ResponseController.
func (rw *responseWriter) FlushError() error {
	if rw.state == respInit {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.state != respPass {
		return nil
	}
	if err := http.NewResponseController(rw.w).Flush(); err != nil {
		return fmt.Errorf("waf: flush: %w", err)
	}
	return nil
}

// Hijack hands the connection over, for a handler that takes it without an
// upgrade request; whatever was held back is dropped, as net/http does.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rw.state = respPass
	c, brw, err := http.NewResponseController(rw.w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("waf: hijack: %w", err)
	}
	return c, brw, nil
}

// Unwrap gives http.ResponseController the underlying writer for the
// methods this one does not have (deadlines, full duplex).
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }
