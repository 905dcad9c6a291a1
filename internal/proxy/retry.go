package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// tryTransport is the round tripper ReverseProxy calls once per request. It
// sends the request to the target picked in ServeHTTP and, when that try
// fails in a way upstream.RetryPolicy allows, to other targets: everything
// happens before ReverseProxy has written anything to the client, so a
// response that started streaming is never retried (and SSE is never
// buffered: the response body is handed over untouched). Each try's
// outcome feeds the pool's passive health.
type tryTransport struct{ h *handler }

func (tt tryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := tt.h
	x := exchangeFrom(req.Context())
	base := req.Context()
	if h.direct != nil && req.Body != nil && x.buffered == nil && h.direct.Accepts(req) {
		if err := x.bufferForDirect(base, req); err != nil {
			return nil, err
		}
	}
	for {
		x.info.Tries++
		ctx := base
		var tm *time.Timer
		if d := h.retries.PerTryTimeout(); d > 0 {
			// The per-try timeout bounds the wait for the response head,
			// not the upload: for a request with a body the timer starts
			// when the body has been sent (uploadBody at EOF), so a slow
			// client or a long client stream is not cut, nor blamed on the
			// target.
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(base)
			x.addCancel(cancel)
			tm = time.AfterFunc(time.Hour, func() { cancel(protocol.ErrResponseHeaderTimeout) })
			tm.Stop()
			if x.noBody {
				tm.Reset(d)
			} else {
				x.tryTimer.Store(&tryTimer{t: tm, d: d})
			}
			req = req.WithContext(ctx)
		}
		start := time.Now()
		var res *http.Response
		var err error
		if h.direct != nil && h.direct.Accepts(req) {
			res, err = h.direct.RoundTrip(req, x.target)
		} else {
			res, err = h.pool.Transport().RoundTrip(req)
		}
		x.tryTimer.Store(nil)
		if tm != nil {
			tm.Stop()
			if err != nil && context.Cause(ctx) == protocol.ErrResponseHeaderTimeout {
				err = protocol.ErrResponseHeaderTimeout
			}
		}
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		if base.Err() == nil { // a departed client says nothing of the target
			failed := upstream.IsFailure(err, status)
			var lat time.Duration
			if !failed {
				lat = time.Since(start)
			}
			h.pool.Report(x.target, upstream.Outcome{Failed: failed, Latency: lat})
		}
		if !tt.shouldRetry(x, req, res, err) {
			return res, err
		}
		next, perr := tt.repick(x)
		if perr != nil {
			return res, err
		}
		if res != nil {
			// Closing an unread body makes the transport drop that
			// connection: the 5xx's body is not worth a read.
			res.Body.Close()
		}
		observe.LogRetry(h.log, base, x.info, req.Method, err, status, next.String())
		req = tt.retarget(req, x, next)
	}
}

// shouldRetry applies the retry policy, the body rule and the budget.
func (tt tryTransport) shouldRetry(x *exchange, req *http.Request, res *http.Response, err error) bool {
	h := tt.h
	if x.info.Tries > h.retries.Attempts() || x.parent.Err() != nil || x.firedErr() != nil {
		return false
	}
	switch {
	case err != nil:
		if !h.retries.RetryError(err, req.Method) {
			return false
		}
		// A connect failure sent nothing, so even an unbuffered body is
		// intact if nothing of it was read; otherwise the body must be
		// replayable.
		if !x.replayable() && !(isConnect(err) && !x.bodyTouched()) {
			return false
		}
	case res != nil:
		if !h.retries.RetryStatus(res.StatusCode, req.Method) || !x.replayable() {
			return false
		}
	default:
		return false
	}
	return h.pool.AllowRetry()
}

// repick chooses the next target, avoiding those already tried.
func (tt tryTransport) repick(x *exchange) (*upstream.Target, error) {
	x.pick.Tried.Add(x.target)
	next, err := tt.h.pool.PickClaim(&x.pick)
	if err != nil {
		return nil, err
	}
	x.target.Done()
	x.target = next
	x.info.Target = next.String()
	x.info.Pick = x.pick.Reason
	return next, nil
}

// retarget rebuilds the outbound request for next: a new URL (and Host when
// the route does not preserve the client's) and a fresh body reader.
func (tt tryTransport) retarget(req *http.Request, x *exchange, next *upstream.Target) *http.Request {
	out := req.Clone(req.Context())
	out.URL.Scheme = next.Scheme()
	out.URL.Host = next.URLHost()
	if !tt.h.preserveHost {
		out.Host = next.HostHeader()
	}
	if x.buffered != nil {
		out.Body = &uploadBody{rc: io.NopCloser(bytes.NewReader(x.buffered)), x: x}
		out.ContentLength = int64(len(x.buffered))
	}
	return out
}

func isConnect(err error) bool { return errors.Is(err, protocol.ErrUpstreamConnect) }

// bufferBody reads a small request body into memory so the request can be
// sent again (retries.max_buffered_body). Only bodies of known length up
// to the bound are buffered, and only when a retry could use them; the
// rest stream as before.
func (h *handler) bufferBody(r *http.Request, x *exchange) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		x.noBody = true
		return nil
	}
	if h.retries.Attempts() == 0 || !h.retries.MayRepeat(r.Method) ||
		r.ContentLength < 0 || r.ContentLength > h.retries.MaxBufferedBody() ||
		r.Header.Get("Expect") != "" {
		return nil
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, buf); err != nil {
		return err
	}
	x.buffered = buf
	r.Body = io.NopCloser(bytes.NewReader(buf))
	return nil
}

// tryTimer is a per-try timeout waiting for the end of the upload.
type tryTimer struct {
	t *time.Timer
	d time.Duration
}
