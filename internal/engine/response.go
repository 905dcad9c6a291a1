package engine

import (
	"io"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ResponseWriter writes a handler's response straight to the client
// connection: bytes given to Write go out in one write syscall each, with
// no buffering, so a handler that streams (SSE) is never delayed. The
// handler writes a complete HTTP/1.1 response (status line, fields, body
// with its framing); WriteResponse and WriteError build simple ones. It
// belongs to the connection and is valid until the handler returns.
type ResponseWriter struct {
	c          *conn
	req        *Request
	wrote      bool
	closeAfter bool
	status     int
	bytes      int64
	head       int64 // bytes of the response head among bytes
}

// begin readies w for req.
func (w *ResponseWriter) begin(req *Request) {
	c := w.c
	*w = ResponseWriter{c: c, req: req}
}

// Write sends p to the client. A write error marks the connection for
// closing; the handler should stop.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	w.wrote = true
	w.c.armWrite()
	n, err := w.c.write(p)
	w.bytes += int64(n)
	if err != nil {
		w.closeAfter = true
	}
	return n, err
}

// ReadFrom copies src to the client until EOF. When the client connection
// is a *net.TCPConn and src an *io.LimitedReader over a *net.TCPConn or
// unix connection, Linux moves the bytes with splice(2), never through
// user space.
func (w *ResponseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.wrote = true
	w.c.armWrite()
	var n int64
	var err error
	if w.c.tcp != nil {
		n, err = w.c.tcp.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.c.nc}, src)
	}
	w.bytes += n
	if err != nil {
		w.closeAfter = true
	}
	return n, err
}

// spliceFrom moves n bytes from src to the client with splice(2), through
// raw system calls (fdIO). It returns errNoPipe, having moved nothing,
// when the client or src has no descriptor or no pipe can be had.
func (w *ResponseWriter) spliceFrom(src *fdIO, n int64) (int64, error) {
	if w.c.io.rc == nil || src.rc == nil {
		return 0, errNoPipe
	}
	w.wrote = true
	w.c.armWrite()
	m, err := spliceCopy(&w.c.io, src, n)
	w.bytes += m
	if err != nil && err != errNoPipe {
		w.closeAfter = true
	}
	return m, err
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

// SetClose makes the connection close once the handler returns (after a
// response the client cannot delimit, or a broken one). A handler that
// stops mid-response must call it so the client sees the break.
func (w *ResponseWriter) SetClose() { w.closeAfter = true }

// Closing reports whether the connection will close after this response:
// SetClose was called, a write failed, or the request asked for it. A
// handler writing a response head adds "Connection: close" then (RFC 9112
// §9.6).
func (w *ResponseWriter) Closing() bool {
	return w.closeAfter || w.req.WantsClose() || w.c.closing.Load()
}

// SetStatus records the response status for Status (logs); WriteResponse
// and WriteError record it themselves.
func (w *ResponseWriter) SetStatus(code int) { w.status = code }

// Status returns the status recorded, 0 if none.
func (w *ResponseWriter) Status() int { return w.status }

// Written returns the bytes written to the client so far, head included.
func (w *ResponseWriter) Written() int64 { return w.bytes }

// BodyWritten returns the body bytes written to the client so far (what
// the access log reports, as on the net/http path).
func (w *ResponseWriter) BodyWritten() int64 { return w.bytes - w.head }

// Started reports whether anything was written.
func (w *ResponseWriter) Started() bool { return w.wrote }

// Scratch returns an empty buffer, owned by the connection until the
// handler returns, to build a response head in (its capacity is a few
// KiB; appending past it allocates).
func (w *ResponseWriter) Scratch() []byte { return w.c.s.scratch[:0] }

// WriteResponse writes a complete response with a Content-Length body
// (none for HEAD) in one write. extra holds additional field lines, each
// ending in CRLF, or nil.
func (w *ResponseWriter) WriteResponse(status int, contentType string, body []byte, extra ...string) error {
	w.status = status
	b := appendStatusLine(w.Scratch(), status)
	if contentType != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, contentType...)
		b = append(b, "\r\n"...)
	}
	for _, e := range extra {
		b = append(b, e...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	if w.Closing() {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.head = int64(len(b))
	if w.req.Method != "HEAD" {
		b = append(b, body...)
	}
	w.c.s.scratch = b[:0]
	_, err := w.Write(b)
	return err
}

// WriteError writes Gatehouse's error response: the status, the short
// body of protocol.ErrorBody (no error text, no address) and, when
// idHeader is not empty, the request ID field.
func (w *ResponseWriter) WriteError(status int, requestID, idHeader string) error {
	w.status = status
	var idLine [2 * protocol.MaxRequestIDLen]byte
	extra := "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
	var id string
	if idHeader != "" && protocol.ValidRequestID(requestID) {
		b := append(idLine[:0], idHeader...)
		b = append(b, ": "...)
		b = append(b, requestID...)
		b = append(b, "\r\n"...)
		id = view(b)
	}
	return w.WriteResponse(status, "text/plain; charset=utf-8", protocol.ErrorBody(status, requestID), extra, id)
}
