package waf

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/corazawaf/coraza/v3/types"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// errOverLimit: the request body is longer than the inspection limit and
// the policy is to reject it (413, RFC 9110 section 15.5.14).
var errOverLimit = errors.New("waf: request body over the inspection limit")

// requestBody runs phase 2. To refuse on body content the body must be seen
// before any of it is forwarded, so the first limit bytes are buffered
// (bounded memory), inspected, and then forwarded ahead of the rest of the
// stream, which is never buffered: the backend receives exactly the bytes
// the client sent. A body over the limit is either rejected (errOverLimit)
// or passes with only its prefix inspected. In detection mode the
// over-limit rejection is only logged: that mode never refuses.
func (f *firewall) requestBody(tx types.Transaction, r *http.Request) (*types.Interruption, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || !tx.IsRequestBodyAccessible() {
		// Phase 2 still runs (rules on ARGS, anomaly evaluation).
		return tx.ProcessRequestBody()
	}
	reject := f.cfg.RequestBody.OverLimit == OverLimitReject
	if reject && r.ContentLength > f.limit {
		if f.blocking {
			// Refused without reading the body: with "Expect: 100-continue"
			// the client does not even send it (RFC 9110 section 10.1.1).
			return nil, errOverLimit
		}
		f.logOverLimit(r)
	}
	prefix, err := readPrefix(r.Body, f.limit+1, r.ContentLength)
	if err != nil {
		return nil, err
	}
	over := int64(len(prefix)) > f.limit
	if over && reject && r.ContentLength <= f.limit {
		// Only now known for a body of unknown length (chunked).
		if f.blocking {
			return nil, errOverLimit
		}
		f.logOverLimit(r)
	}
	// Everything read is forwarded, whatever happens below.
	r.Body = &replayBody{prefix: prefix, rest: r.Body}
	// With Coraza's limit at limit+1 an over-limit prefix (limit+1 bytes)
	// sets INBOUND_DATA_ERROR and is processed partially; a body within the
	// limit is processed whole (see directives).
	it, _, err := tx.WriteRequestBody(prefix)
	if err != nil {
		return nil, fmt.Errorf("waf: buffering request body: %w", err)
	}
	if it != nil {
		return it, nil
	}
	return tx.ProcessRequestBody()
}

func (f *firewall) logOverLimit(r *http.Request) {
	f.log.Info("waf: request body over the inspection limit, not rejected in detection mode",
		"request_id", requestID(observe.InfoFrom(r.Context())), "limit", f.limit)
}

// readPrefix reads up to max bytes of body. A known length (RFC 9112
// section 6.3) sizes the buffer exactly; otherwise it grows as data
// arrives, never past max. Reaching the end of the body is not an error.
func readPrefix(body io.Reader, max, contentLength int64) ([]byte, error) {
	if contentLength >= 0 {
		buf := make([]byte, min(contentLength, max))
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, fmt.Errorf("waf: reading request body: %w", err)
		}
		return buf, nil
	}
	buf := make([]byte, 0, min(max, 32<<10))
	for int64(len(buf)) < max {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(max, int64(cap(buf))*2))
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("waf: reading request body: %w", err)
		}
	}
	return buf, nil
}

// replayBody forwards the inspected prefix, then the rest of the client's
// body unbuffered. It implements io.WriterTo so a copy to the upstream
// connection still reaches the body's own WriterTo (or the connection's
// ReaderFrom, e.g. splice) for the unbuffered remainder.
type replayBody struct {
	prefix []byte
	rest   io.ReadCloser
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		if len(b.prefix) == 0 {
			b.prefix = nil // let the buffer go as soon as it is sent
		}
		return n, nil
	}
	return b.rest.Read(p)
}

// WriteTo writes the prefix, then copies the rest.
func (b *replayBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if len(b.prefix) > 0 {
		n, err := w.Write(b.prefix)
		total += int64(n)
		b.prefix = b.prefix[n:]
		if err != nil {
			return total, err
		}
		b.prefix = nil
	}
	n, err := io.Copy(w, b.rest)
	return total + n, err
}

// Close closes the client's body.
func (b *replayBody) Close() error { return b.rest.Close() }
