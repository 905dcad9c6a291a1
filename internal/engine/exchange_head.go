package engine

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// appendRequestHead appends the outbound request head to b: the request
// line with r.Path (already cleaned or rewritten by Dispatch) and the
// query as received; Host; every field of r except the hop-by-hop ones
// and those named by Connection (protocol.RemoveHopByHop, RFC 9110
// §7.6.1); the forwarding fields (protocol.SetForwarded); the request ID;
// and the framing of the body that follows (Content-Length is kept as
// received; a chunked body is forwarded chunked, RFC 9112 §7.1).
//
// It edits r.Header in place. The upstream request is always HTTP/1.1,
// whatever the client spoke (RFC 9110 §6.2: a proxy sends its own
// version).
func (h *ProxyHandler) appendRequestHead(b []byte, r *Request, t *upstream.Target) []byte {
	hdr := &r.Header
	protocol.RemoveHopByHop(hdr)
	// Host is written first, below. Expect is answered by the engine
	// itself (100 Continue when the body is first read), so it is not
	// forwarded; the backend gets the body without waiting.
	hdr.Del("Host")
	hdr.Del("Expect")
	peer := r.Peer.Addr()
	protocol.SetForwarded(hdr, hdr, peer, h.trusted.Contains(peer), r.Scheme, r.Host)
	if h.idHeader != "" {
		if r.ID != "" {
			hdr.Set(h.idHeader, r.ID)
		} else {
			hdr.Del(h.idHeader)
		}
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.Path...)
	if r.RawQuery != "" || r.ForceQuery {
		b = append(b, '?')
		b = append(b, r.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	host := t.HostHeader()
	if h.preserveHost && r.Host != "" {
		host = r.Host
	}
	b = append(b, host...)
	b = append(b, "\r\n"...)
	b = hdr.AppendTo(b)
	if r.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(b, "\r\n"...)
}

// errBadStatusLine: a response the scanner accepted but we cannot use.
var errBadStatusLine = errors.New("malformed upstream status line")

// parseResponseHead fills x from a complete response head the response
// scanner accepted.
func parseResponseHead(head []byte, x *exchange) error {
	x.resp.reset()
	x.respCL, x.chunked, x.respClose = -1, false, false
	e := bytes.Index(head, crlf)
	line := head[:e]
	// "HTTP/1.x SP 3DIGIT [SP reason]" (RFC 9112 §4).
	if len(line) < 12 {
		return errBadStatusLine
	}
	x.respMinor = line[7]
	st, err := strconv.Atoi(view(line[9:12]))
	if err != nil {
		return errBadStatusLine
	}
	x.status = st
	x.reason = nil
	if len(line) > 13 {
		x.reason = line[13:]
	}
	if x.respMinor == '0' {
		x.respClose = true // no keep-alive negotiation with HTTP/1.0 backends
	}
	i := e + 2
	for head[i] != '\r' {
		e = bytes.Index(head[i:], crlf) + i
		l := head[i:e]
		c := bytes.IndexByte(l, ':')
		name, value := l[:c], trimOWS(l[c+1:])
		x.resp.addView(name, value)
		switch {
		case len(name) == 14 && equalFold(name, "content-length"):
			if n, err := strconv.ParseInt(view(value), 10, 64); err == nil && x.respCL < 0 {
				x.respCL = n
			}
		case len(name) == 17 && equalFold(name, "transfer-encoding"):
			// RFC 9112 §6.3 item 4: chunked only if it is the final
			// coding; otherwise the body runs to the close.
			v := value
			if k := bytes.LastIndexByte(v, ','); k >= 0 {
				v = trimOWS(v[k+1:])
			}
			x.chunked = equalFold(v, "chunked")
			if !x.chunked {
				x.respClose = true
			}
		case len(name) == 10 && equalFold(name, "connection"):
			for _, el := range bytes.Split(value, []byte{','}) {
				if equalFold(trimOWS(el), "close") {
					x.respClose = true
				}
			}
		}
		i = e + 2
	}
	if x.chunked {
		x.respCL = -1 // RFC 9112 §6.3 item 3: chunked wins (the scanner agrees)
	}
	return nil
}

// bodyless reports a response without content (RFC 9112 §6.3 item 1).
func bodyless(status int, head bool) bool {
	return head || status < 200 || status == 204 || status == 304
}

// appendResponseHead appends the client's response head: the status line
// with the backend's reason phrase, the backend's fields minus hop-by-hop
// ones (RFC 9110 §7.6.1), our request ID instead of any the backend sent,
// and framing for the client: Content-Length kept, chunked re-announced
// for HTTP/1.1 clients (decoded for HTTP/1.0 ones, RFC 9112 §7.1: chunked
// is not sent to HTTP/1.0), "Connection: close" when the connection ends
// after this response.
func (h *ProxyHandler) appendResponseHead(b []byte, r *Request, x *exchange, closing bool) []byte {
	protocol.RemoveHopByHop(&x.resp)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(x.status), 10)
	b = append(b, ' ')
	b = append(b, x.reason...)
	b = append(b, "\r\n"...)
	if h.idHeader != "" && x.status >= 200 {
		x.resp.Del(h.idHeader)
		if r.ID != "" {
			x.resp.Set(h.idHeader, r.ID)
		}
	}
	b = x.resp.AppendTo(b)
	if x.chunked && r.ProtoMinor >= 1 && !bodyless(x.status, r.Method == "HEAD") {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if closing && x.status >= 200 {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// forwardInterim passes a 1xx response on (RFC 9110 §15.2), except 100
// (the engine answered Expect itself) and except to HTTP/1.0 clients,
// which must not receive 1xx (§15.2).
func (h *ProxyHandler) forwardInterim(w *ResponseWriter, r *Request, x *exchange) {
	if x.status == 100 || r.ProtoMinor == 0 {
		return
	}
	b := h.appendResponseHead(w.Scratch(), r, x, false)
	w.c.s.scratch = b[:0]
	w.c.armWrite()
	_, _ = w.c.write(b) // not a final response: w stays unstarted
}
