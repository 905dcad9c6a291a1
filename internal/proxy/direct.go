package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// bufferForDirect reads the small body of req (Direct accepted it) into
// x.buffered and gives req an in-memory copy, before the first try. The
// engine's client sends head and body in one write and never waits on the
// client; and with the body in memory a failed try may go to another
// target (x.replayable), as with retries.max_buffered_body.
//
// The read runs in a goroutine so that the exchange's context (its upload
// idle timeout, the client leaving) ends the wait at once, as
// http.Transport returns while its write loop is still blocked reading the
// body. A read left behind ends when net/http closes the body after the
// handler returns.
func (x *exchange) bufferForDirect(ctx context.Context, req *http.Request) error {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	body, n := req.Body, int(req.ContentLength)
	go func() {
		b, err := protocol.AppendContent(nil, body, n)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.err
		}
		x.buffered = r.b
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	// Through uploadBody again, so the engine's read of the copy ends the
	// upload phase (and starts a per-try timeout) the way a send would.
	req.Body = &uploadBody{rc: io.NopCloser(bytes.NewReader(x.buffered)), x: x}
	return nil
}
