package compress

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
)

// state is where a response is in the compress-or-not decision.
type state uint8

const (
	stHead   state = iota // no final status yet
	stBuffer              // final status held, body held until the decision
	stPass                // sent unencoded: everything goes straight through
	stEncode              // sent encoded through w.ew
	stGone                // hijacked: the connection is someone else's
)

// sniffLen is how much net/http looks at to guess a Content-Type.
const sniffLen = 512

// maxKeptBuf is the largest hold-back buffer kept with a pooled writer.
const maxKeptBuf = 64 << 10

// responseWriter compresses one response. The decision is made as late as
// needed and as early as possible:
//   - at the final status (WriteHeader, or the first Write/Flush) from the
//     header: status, Content-Encoding, Content-Range, Cache-Control,
//     Content-Type and Content-Length usually settle it at once;
//   - otherwise (no Content-Length, or no Content-Type to sniff) the body
//     is held back, at most MinSize bytes, until enough has arrived, the
//     handler flushes (a stream: decided at once, so nothing is held
//     across a flush) or the handler returns.
//
// It keeps streaming and upgrades working: Flush flushes the encoder and
// the connection, Hijack and Unwrap (http.ResponseController) reach the
// wrapped writer, and ReadFrom keeps sendfile for unencoded responses.
// Not safe for concurrent use (as any http.ResponseWriter).
type responseWriter struct {
	http.ResponseWriter
	c      *Compressor
	req    *http.Request
	enc    Encoding // negotiated for this request; Identity: never encode
	st     state
	status int
	sniff  bool // no Content-Type yet: sniff it from the held-back body
	buf    []byte
	ew     encoder
}

func (w *responseWriter) init(c *Compressor, rw http.ResponseWriter, r *http.Request, enc Encoding) {
	w.ResponseWriter, w.c, w.req, w.enc = rw, c, r, enc
	w.st, w.status, w.sniff = stHead, 0, false
	w.buf = w.buf[:0]
}

// abandon runs when the handler panicked (the proxy aborts a response
// whose copy failed mid-body): the encoder is dropped unfinished and its
// MaxStreams slot given back, so aborted responses cannot use up the
// route's slots. The writer is not pooled again.
func (w *responseWriter) abandon() {
	if w.ew != nil {
		w.ew = nil
		w.c.unclaim()
	}
}

// release drops references so a pooled writer keeps nothing alive.
func (w *responseWriter) release() {
	if w.ew != nil {
		// Only after a failed finish: the encoder is reset before reuse.
		w.c.pools[w.enc].put(w.ew)
		w.c.unclaim()
		w.ew = nil
	}
	if cap(w.buf) > maxKeptBuf {
		w.buf = nil
	}
	w.ResponseWriter, w.req = nil, nil
}

// WriteHeader records the final status and decides what it can from the
// header. Interim 1xx responses (RFC 9110 section 15.2) pass through at
// once; 101 is final for net/http and never compressed.
func (w *responseWriter) WriteHeader(code int) {
	if w.st != stHead {
		if w.st == stPass || w.st == stEncode {
			w.ResponseWriter.WriteHeader(code) // superfluous: net/http reports it
		}
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	w.decideHead()
}

// decideHead decides from the response header alone, or holds the body
// (stBuffer) when the header cannot tell.
func (w *responseWriter) decideHead() {
	h := w.ResponseWriter.Header()
	if bodyless(w.status) || encoded(h) || len(h["Content-Range"]) > 0 || noTransform(h["Cache-Control"]) {
		w.pass()
		return
	}
	ct, hasCT := h["Content-Type"]
	switch {
	case hasCT && len(ct) == 0:
		// nil Content-Type: the handler turned sniffing off, so the type
		// is unknown and stays so.
		w.pass()
		return
	case !hasCT || ct[0] == "":
		w.sniff = true
		w.st = stBuffer
		return
	}
	if !w.c.compressible(ct[0]) {
		w.pass()
		return
	}
	// The response is compressible, so another client's Accept-Encoding
	// could get different bytes: caches must key on it (RFC 9110 section
	// 12.5.5), also when this client gets identity.
	AddVary(h)
	if w.enc == Identity {
		w.pass()
		return
	}
	if cl, ok := contentLength(h); ok {
		if cl == 0 || cl < int64(w.c.minSize) {
			w.pass()
		} else {
			w.encode()
		}
		return
	}
	if w.req.Method == http.MethodHead {
		// No body will come to measure: answer with the header a GET
		// with a body of unknown length gets (RFC 9110 section 9.3.2).
		w.encode()
		return
	}
	w.st = stBuffer
}

// decide settles a held-back response. next is data not yet in w.buf;
// final means no more data will follow buf+next.
func (w *responseWriter) decide(next []byte, final bool) {
	h := w.ResponseWriter.Header()
	total := len(w.buf) + len(next)
	if w.sniff {
		if total == 0 {
			w.pass()
			return
		}
		sample := w.buf
		if len(sample) < sniffLen && len(next) > 0 {
			sample = append(sample, next[:min(sniffLen-len(sample), len(next))]...)
		}
		// What net/http would do with the first bytes (its sniffing
		// would otherwise see compressed bytes).
		ct := http.DetectContentType(sample)
		h.Set("Content-Type", ct)
		if !w.c.compressible(ct) {
			w.pass()
			return
		}
		AddVary(h)
		if w.enc == Identity {
			w.pass()
			return
		}
	}
	if final && (total == 0 || total < w.c.minSize) {
		if _, ok := h["Content-Length"]; !ok && w.req.Method != http.MethodHead {
			h.Set("Content-Length", strconv.Itoa(total))
		}
		w.pass()
		return
	}
	w.encode()
}

// pass sends the head unencoded.
func (w *responseWriter) pass() {
	w.st = stPass
	w.ResponseWriter.WriteHeader(w.status)
}

// encode rewrites the header for the coded representation and sends it.
func (w *responseWriter) encode() {
	var ew encoder
	if w.req.Method != http.MethodHead {
		if !w.c.claim() {
			// Every coding slot of the route is taken (MaxStreams):
			// this one goes out as is, Vary already set.
			w.pass()
			return
		}
		var err error
		if ew, err = w.c.pools[w.enc].get(w.ResponseWriter); err != nil {
			w.c.unclaim()
			w.pass()
			return
		}
	}
	h := w.ResponseWriter.Header()
	// The length is unknown until the encoder is done: chunked on
	// HTTP/1.1 (RFC 9112 section 6.1), end of stream on h2/h3.
	h.Del("Content-Length")
	// Byte ranges of an on-the-fly coding cannot be served (RFC 9110
	// section 14.3).
	h.Del("Accept-Ranges")
	// Digests of the content no longer match it (RFC 9530 sections 2
	// and 3; Content-MD5 is obsolete but still seen).
	h.Del("Content-Digest")
	h.Del("Repr-Digest")
	h.Del("Content-Md5")
	h.Set("Content-Encoding", w.enc.String())
	weakenETag(h)
	w.ResponseWriter.WriteHeader(w.status)
	if ew == nil {
		w.st = stPass // HEAD: the head is all there is
		return
	}
	w.ew = ew
	w.st = stEncode
}

// emit writes the held-back bytes in the decided state.
func (w *responseWriter) emit() error {
	if len(w.buf) == 0 {
		return nil
	}
	var err error
	switch w.st {
	case stEncode:
		_, err = w.ew.Write(w.buf)
	case stPass:
		_, err = w.ResponseWriter.Write(w.buf)
	}
	w.buf = w.buf[:0]
	return err
}

// need is how many bytes settle a held-back response.
func (w *responseWriter) need() int { return max(w.c.minSize, 1) }

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.st == stHead {
		w.WriteHeader(http.StatusOK)
	}
	if w.st == stBuffer {
		if len(w.buf)+len(p) < w.need() {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.decide(p, false)
		if err := w.emit(); err != nil {
			return 0, err
		}
	}
	switch w.st {
	case stEncode:
		return w.ew.Write(p)
	case stPass:
		return w.ResponseWriter.Write(p)
	}
	return 0, http.ErrHijacked
}

// ReadFrom keeps the wrapped writer's sendfile path for unencoded bodies
// (static files) and copies through a pooled buffer otherwise.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.st == stHead {
		w.WriteHeader(http.StatusOK)
	}
	if w.st == stPass {
		if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
	}
	bp := w.c.copyBuf()
	defer w.c.bufs.Put(bp)
	return io.CopyBuffer(writerOnly{w}, readerOnly{src}, *bp)
}

// Flush sends what the handler wrote so far: a held-back response is
// decided now (a stream is compressed if it qualifies), the encoder is
// flushed (gzip/zstd/brotli flush: all input so far becomes decodable
// output) and then the connection. SSE events leave as they are written.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController, reporting errors.
func (w *responseWriter) FlushError() error {
	if w.st == stHead {
		w.WriteHeader(http.StatusOK)
	}
	if w.st == stBuffer {
		w.decide(nil, false)
		if err := w.emit(); err != nil {
			return err
		}
	}
	switch w.st {
	case stEncode:
		if err := w.ew.Flush(); err != nil {
			return err
		}
	case stGone:
		return http.ErrHijacked
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket through a route that
// compresses); nothing is written by this writer afterwards.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.st = stGone
	}
	return c, rw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish settles a response still held back and ends the coded stream.
func (w *responseWriter) finish() error {
	if w.st == stBuffer {
		w.decide(nil, true)
		if err := w.emit(); err != nil {
			return err
		}
	}
	if w.st != stEncode {
		return nil
	}
	err := w.ew.Close()
	w.c.pools[w.enc].put(w.ew)
	w.c.unclaim()
	w.ew = nil
	return err
}

// contentLength parses a single valid Content-Length (RFC 9110 section
// 8.6); anything else counts as unknown.
func contentLength(h http.Header) (int64, bool) {
	v := h["Content-Length"]
	if len(v) != 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// writerOnly hides ReadFrom, so io.Copy does not call back into it.
type writerOnly struct{ io.Writer }

// readerOnly hides WriteTo (os.File has one), so io.CopyBuffer uses the
// pooled buffer.
type readerOnly struct{ io.Reader }
