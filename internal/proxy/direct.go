package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

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
// body. The goroutine is cut and joined before this returns: nothing may
// touch the body once the handler has returned (the runtime's read
// timeout sets deadlines through it, which HTTP/2 does not survive then).
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
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		// Usually fire has cut the read already; cut again until it
		// ends. The runtime's reader (server.read_timeout) cannot undo a
		// cut (its deadlines and the cut share one gate, which applies
		// every cut); a reader of a chain built elsewhere could set a
		// deadline between two reads.
		tick := time.NewTicker(cutAgain)
		defer tick.Stop()
		for waiting := true; waiting; {
			_ = x.cutUpload()
			select {
			case <-done:
				waiting = false
			case <-tick.C:
			}
		}
		return context.Cause(ctx)
	}
	if r.err != nil {
		return r.err
	}
	x.buffered = r.b
	// Through uploadBody again, so the engine's read of the copy ends the
	// upload phase (and starts a per-try timeout) the way a send would.
	req.Body = &uploadBody{rc: io.NopCloser(bytes.NewReader(x.buffered)), x: x}
	return nil
}

// cutAgain is how often bufferForDirect repeats the cut while it waits.
const cutAgain = 20 * time.Millisecond
