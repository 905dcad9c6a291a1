package engine

import (
	"errors"
	"io"
	"sync"
)

// retryBodyBufs pools the buffers that hold a request head and a whole
// small body, so the request can be sent again to another target
// (retries.max_buffered_body). Pooled as *[]byte; a buffer grows to the
// largest request it held.
var retryBodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// wantsBodyBuffer reports whether r's body should be read whole before
// the first try: the route retries, the method may be repeated, the body
// has a declared length within max_buffered_body and is not already all
// in the connection buffer (then the ordinary packing has it).
func (h *ProxyHandler) wantsBodyBuffer(r *Request, w *ResponseWriter) bool {
	if h.retries.Attempts() == 0 || !h.retries.MayRepeat(r.Method) || r.chunked ||
		r.ContentLength <= 0 || r.ContentLength > h.retries.MaxBufferedBody() {
		return false
	}
	return int64(w.c.w-w.c.r) < r.ContentLength
}

// bufferBody returns hb with the whole request body appended, in a pooled
// buffer the caller gives back with putBodyBuffer. Reading is bounded by
// the server's body timeout, as any body read.
func (h *ProxyHandler) bufferBody(b *bodyReader, hb []byte, size int64) (*[]byte, []byte, error) {
	bp := retryBodyBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	if need := len(hb) + int(size); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	buf = append(buf, hb...)
	for {
		p, err := b.raw(int(size))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			*bp = buf
			retryBodyBufs.Put(bp)
			return nil, nil, err
		}
		buf = append(buf, p...)
		if b.done {
			break
		}
	}
	*bp = buf
	return bp, buf, nil
}

// putBodyBuffer returns a buffer from bufferBody to the pool.
func putBodyBuffer(bp *[]byte) {
	if bp != nil {
		retryBodyBufs.Put(bp)
	}
}
