package cache

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// fillWriter stands between the rest of the chain and the client: it
// writes the response out as it arrives and, when the response may be
// stored, keeps a copy (tee) that becomes an Entry once the response ended
// complete. The client never waits for the store: bytes go to the client
// first. A response that grows past the maximum object size, is hijacked
// or ends short is dropped from the store and still streams on. Flush,
// Hijack and Unwrap reach the wrapped writer (SSE, WebSocket).
type fillWriter struct {
	w  http.ResponseWriter
	c  *Cache
	rs *reqState
	// swallow, when set, is asked at the response head whether to hold the
	// response back from the client (a 304 or an error during
	// revalidation, which the cache answers itself).
	swallow func(status int) bool

	headDone  bool
	swallowed bool
	status    int
	held      http.Header // the swallowed response's header

	storing  bool
	entry    *Entry
	buf      []byte
	tmp      *os.File // the body's temporary file when bound for the disk store
	kept     int64    // bytes of the body kept (buf or tmp)
	written  int64
	declared int64 // Content-Length, -1 if none
}

func (f *fillWriter) Header() http.Header { return f.w.Header() }

func (f *fillWriter) WriteHeader(code int) {
	if f.headDone {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Interim responses (RFC 9110 §15.2) pass through; never stored.
		f.w.WriteHeader(code)
		return
	}
	f.headDone = true
	f.status = code
	h := f.w.Header()
	if f.swallow != nil && f.swallow(code) {
		f.swallowed = true
		f.held = h.Clone()
		clear(h)
		return
	}
	why := f.prepare(code, h)
	status := "gatehouse; fwd=" + f.rs.fwd + "; fwd-status=" + strconv.Itoa(code)
	if f.rs.collapsed {
		status += "; collapsed"
	}
	if why == "" {
		status += "; stored"
	} else {
		status += "; detail=" + why
	}
	addCacheStatus(h, status)
	f.w.WriteHeader(code)
}

// prepare decides whether to store the response and builds the Entry's
// head; it returns the reason when not storing.
func (f *fillWriter) prepare(code int, h http.Header) string {
	rs := f.rs
	if rs.noStore != "" {
		return rs.noStore
	}
	if code == http.StatusSwitchingProtocols {
		return whyInformation
	}
	cc := ParseCacheControl(h["Cache-Control"])
	f.c.applyIgnores(&cc)
	if why := f.c.storable(rs.reqCC, rs.auth, code, h, cc); why != "" {
		return why
	}
	f.declared = -1
	if v := h.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return whyStatus
		}
		if n > f.c.opts.MaxObjectSize {
			return whyTooLarge
		}
		f.declared = n
		if !f.toDisk(n) {
			f.buf = make([]byte, 0, n)
		}
	}
	f.storing = true
	if f.declared >= 0 && f.toDisk(f.declared) && !f.startFile() {
		return whyDisk
	}
	f.entry = f.c.newEntry(rs, code, h, cc, f.c.now())
	return ""
}

func (f *fillWriter) Write(b []byte) (int, error) {
	if !f.headDone {
		f.WriteHeader(http.StatusOK)
	}
	if f.swallowed {
		return len(b), nil
	}
	n, err := f.w.Write(b)
	f.written += int64(n)
	if f.storing {
		f.keep(b[:n])
	}
	return n, err
}

// ReadFrom keeps the wrapped writer's sendfile path when nothing is stored.
func (f *fillWriter) ReadFrom(src io.Reader) (int64, error) {
	if !f.headDone {
		f.WriteHeader(http.StatusOK)
	}
	if !f.storing && !f.swallowed {
		if rf, ok := f.w.(io.ReaderFrom); ok {
			n, err := rf.ReadFrom(src)
			f.written += n
			return n, err
		}
	}
	return io.Copy(writerOnly{f}, src)
}

// Flush sends what is buffered: SSE events leave as they are written.
func (f *fillWriter) Flush() { _ = f.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (f *fillWriter) FlushError() error {
	if !f.headDone {
		f.WriteHeader(http.StatusOK)
	}
	if f.swallowed {
		return nil
	}
	return http.NewResponseController(f.w).Flush()
}

// Hijack hands the connection over; nothing is stored.
func (f *fillWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	f.discard()
	return http.NewResponseController(f.w).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (f *fillWriter) Unwrap() http.ResponseWriter { return f.w }

// finish stores the filled entry when the response ended complete: the
// handler returned normally (a backend cut off mid-body panics with
// http.ErrAbortHandler instead) and the body has its declared length.
// Otherwise the fill is discarded (and its temporary file deleted).
func (f *fillWriter) finish(completed bool) *Entry {
	if !f.storing || !completed || (f.declared >= 0 && f.written != f.declared) {
		f.discard()
		return nil
	}
	e := f.entry
	f.storing = false
	if !f.commitBody(e) {
		return nil
	}
	f.buf = nil
	e.computeSize()
	if !f.c.store.Put(e) {
		removeUnstored(e)
		return nil
	}
	return e
}

type writerOnly struct{ io.Writer }

// newEntry builds an Entry's head from a response about to be stored.
func (c *Cache) newEntry(rs *reqState, code int, h http.Header, cc Directives, respTime time.Time) *Entry {
	hdr := h.Clone()
	stripFields(hdr, cc)
	e := &Entry{
		Key: rs.key, Variant: rs.variant, Status: code, Header: hdr,
		ReqTime: rs.reqTime, RespTime: respTime, cc: cc,
		etag: hdr.Get("Etag"),
	}
	if lm := hdr.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			e.lastMod = t
		}
	}
	for _, v := range hdr.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			if name = trimOWS(name); name != "" {
				name = http.CanonicalHeaderKey(name)
				e.vary = append(e.vary, name)
				e.varyVals = append(e.varyVals, varyValue(rs.r.Header, name))
			}
		}
	}
	e.tags = parseTags(hdr)
	e.lifetime = c.freshnessLifetime(e)
	e.initialAge = initialAge(e)
	return e
}

// parseTags reads Surrogate-Key (space-separated, Fastly) and Cache-Tag
// (comma-separated, Cloudflare).
func parseTags(h http.Header) []string {
	var tags []string
	for _, v := range h.Values("Surrogate-Key") {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h.Values("Cache-Tag") {
		for t := range strings.SplitSeq(v, ",") {
			if t = trimOWS(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// addCacheStatus appends this cache's member to Cache-Status (RFC
// 9211 §2: members are ordered from the origin to the client; each cache
// keeps what it received and adds its own at the end).
func addCacheStatus(h http.Header, v string) {
	if old := h["Cache-Status"]; len(old) > 0 {
		h["Cache-Status"] = []string{strings.Join(old, ", ") + ", " + v}
		return
	}
	h["Cache-Status"] = []string{v}
}
