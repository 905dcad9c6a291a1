package engine

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// respond writes the response head and copies the body. Once the head is
// out, a failure can no longer become a 502: the client connection is
// closed so the response is visibly broken (a short Content-Length body
// or a chunked body without its last chunk), as net/http's proxy does.
func (h *ProxyHandler) respond(w *ResponseWriter, r *Request, x *exchange, info *observeInfo, uc *upConn, rb []byte, hl int) {
	noBody := bodyless(x.status, r.Method == "HEAD")
	closeDelim := !noBody && !x.chunked && x.respCL < 0
	dechunk := !noBody && x.chunked && r.ProtoMinor == 0
	if closeDelim || dechunk {
		// The client can only find the end by the close (RFC 9112 §6.3
		// item 8); re-chunking a close-delimited body is left out.
		w.SetClose()
	}
	w.SetStatus(x.status)
	reusable := !x.respClose
	ended := noBody || x.headEnded
	after := rb[hl:]
	var prefix []byte
	var dc dechunker
	if !ended && len(after) > 0 {
		n, v := uc.sc.Feed(after)
		prefix, after = after[:n], after[n:]
		switch v.Action {
		case protocol.MessageEnd:
			ended = true
		case protocol.Reject:
			h.broken(w, r, info, uc, fmt.Errorf("%w: %s", errBrokenResponse, v.Reason))
			return
		}
	}
	if len(after) > 0 {
		reusable = false // bytes past the response: the connection is out of step
	}
	if dechunk {
		prefix = prefix[:dc.decode(prefix, prefix)]
	}
	hd := h.appendResponseHead(w.Scratch(), r, x, w.Closing())
	w.c.s.scratch = hd[:0]
	w.head = int64(len(hd))
	// Head and first body bytes leave in one write: the head goes right
	// before the body bytes in the buffer they were read into (what
	// precedes them there, the backend's head and our request head, is
	// spent), or, failing room, after the head in scratch.
	buf, off := rb, hl
	if x.room > 0 {
		buf, off = w.c.s.out, x.room+hl
	}
	var err error
	switch {
	case len(prefix) == 0:
		_, err = w.Write(hd)
	case off >= len(hd):
		start := off - len(hd)
		copy(buf[start:], hd)
		_, err = w.Write(buf[start : off+len(prefix)])
	case len(hd)+len(prefix) <= cap(hd):
		_, err = w.Write(append(hd, prefix...))
	default:
		if _, err = w.Write(hd); err == nil {
			_, err = w.Write(prefix)
		}
	}
	if err != nil {
		h.clientGone(r, info, uc, ended && reusable, err)
		return
	}
	idleSince := x.clock // the body ended with the head's read
	if !ended {
		if ended, err = h.copyBody(w, x, uc, closeDelim, dechunk, &dc, &reusable); err != nil {
			h.broken(w, r, info, uc, err)
			return
		}
		idleSince = time.Time{} // copying may have taken long: read the clock
	}
	if ended && reusable {
		h.conns.put(uc, idleSince)
	} else {
		h.conns.close(uc)
	}
}

// copyBody copies the rest of the response body. Fixed-length bodies of
// at least spliceMin go by splice(2) (TCP client, TCP or unix upstream);
// everything else goes read by read, each read written to the client at
// once, so streamed responses (SSE, chunked) are never held back.
// spliceable reports whether copyBody will splice the rest of the body.
func (h *ProxyHandler) spliceable(w *ResponseWriter, uc *upConn, dechunk bool) bool {
	remain, ok := uc.sc.InBody()
	return ok && !dechunk && remain >= spliceMin && w.c.tcp != nil && (uc.tcp != nil || uc.unix != nil)
}

func (h *ProxyHandler) copyBody(w *ResponseWriter, x *exchange, uc *upConn, closeDelim, dechunk bool, dc *dechunker, reusable *bool) (bool, error) {
	if h.spliceable(w, uc, dechunk) {
		remain, _ := uc.sc.InBody()
		lr := &w.c.s.lr
		for remain > 0 {
			// Deadlines are armed per MiB: each bounds the wait for
			// progress, not the whole body.
			h.armRead(uc, x, h.now(), h.t.Idle)
			want := int64(min(remain, 1<<20))
			m, err := w.spliceFrom(&uc.io, want)
			if err == errNoPipe {
				*lr = io.LimitedReader{R: uc.nc, N: want}
				m, err = w.ReadFrom(lr)
			}
			remain -= uint64(m)
			if v := uc.sc.SkipBody(uint64(m)); v.Action == protocol.MessageEnd {
				return true, nil
			}
			if err == nil && m < want {
				err = io.ErrUnexpectedEOF
			}
			if errors.Is(err, errSpliceOut) {
				*reusable = false
				return false, fmt.Errorf("writing to client: %w", err)
			}
			if err != nil {
				return false, fmt.Errorf("%w: %w", errBrokenResponse, err)
			}
		}
		return true, nil
	}
	buf := w.c.s.out
	for {
		h.armRead(uc, x, h.now(), h.t.Idle)
		m, rerr := uc.read(buf)
		if m > 0 {
			n, v := uc.sc.Feed(buf[:m])
			p := buf[:n]
			if v.Action == protocol.Reject {
				return false, fmt.Errorf("%w: %s", errBrokenResponse, v.Reason)
			}
			if n < m {
				*reusable = false
			}
			if dechunk {
				p = p[:dc.decode(p, p)]
			}
			if len(p) > 0 {
				if _, err := w.Write(p); err != nil {
					*reusable = false
					return false, fmt.Errorf("writing to client: %w", err)
				}
			}
			if v.Action == protocol.MessageEnd {
				return true, nil
			}
		}
		if rerr != nil {
			if closeDelim && rerr == io.EOF {
				*reusable = false
				return true, nil // RFC 9112 §6.3 item 8: the close ends it
			}
			return false, fmt.Errorf("%w: %w", errBrokenResponse, rerr)
		}
	}
}

// broken ends an exchange whose response is under way: close both
// connections so the client sees a truncated response.
func (h *ProxyHandler) broken(w *ResponseWriter, r *Request, info *observeInfo, uc *upConn, err error) {
	h.conns.close(uc)
	w.SetClose()
	info.Err = err
	h.logFailure(r, info, err, 0)
}

// clientGone ends an exchange whose client stopped reading.
func (h *ProxyHandler) clientGone(r *Request, info *observeInfo, uc *upConn, keep bool, err error) {
	if keep {
		h.conns.put(uc, time.Time{})
	} else {
		h.conns.close(uc)
	}
	info.Err = fmt.Errorf("writing response: %w", err)
	h.logFailure(r, info, info.Err, protocol.StatusClientClosedRequest)
}
