package proxy

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// phase is where an exchange is; each has its own timeout.
type phase uint8

const (
	phaseStart  phase = iota // picking, connecting (the dialer bounds the dial)
	phaseUpload              // sending the request body: Idle between client reads
	phaseHeader              // request sent, waiting for the head: ResponseHeader
	phaseBody                // copying the response body: Idle between backend reads
	phaseDone                // finished or upgraded: no timeout
)

// exchange is the state of one request's trip upstream. It is allocated per
// request and found by the ReverseProxy hooks in the request context.
//
// Timeouts use one timer per exchange, re-armed on phase changes. Body reads
// only store a timestamp (no timer reset per read); when the timer fires it
// compares the deadline with that timestamp and re-arms if there was
// activity. When a deadline passes, the outbound context is cancelled with
// the protocol sentinel as its cause, which http.Transport returns from
// RoundTrip (context.Cause), so serveErr maps it to 504.
type exchange struct {
	h        *handler
	info     *observe.RequestInfo
	w        http.ResponseWriter
	target   *upstream.Target
	pick     upstream.PickContext
	timeouts Timeouts
	cancel   context.CancelCauseFunc
	parent   context.Context // the inbound request's: done when the client left
	begin    time.Time

	// last is the time of the last body read (entry or exit), in
	// nanoseconds since begin; reading counts reads in progress (upload and
	// response body may both be read at once).
	last    atomic.Int64
	reading atomic.Int32

	// Retries (retry.go): the buffered request body (nil when not
	// buffered), whether there is no body at all, how many body bytes
	// were read by the transport, and the per-try contexts to release.
	buffered []byte
	noBody   bool
	upBytes  atomic.Int64
	cancels  []context.CancelCauseFunc
	// tryTimer is the current try's per-try timeout, armed by uploadBody
	// when the body has been sent (set and cleared by the request's
	// goroutine, read by the transport's, hence atomic).
	tryTimer atomic.Pointer[tryTimer]

	mu      sync.Mutex // guards the fields below
	ph      phase
	phStart time.Duration // since begin
	fired   error         // the timeout sentinel that cancelled the exchange
	cut     bool          // fire ended a read of the client's body (cutUpload)
	tm      *time.Timer
}

func (x *exchange) since() time.Duration { return time.Since(x.begin) }

// replayable reports whether the request can be sent again as it was.
func (x *exchange) replayable() bool { return x.noBody || x.buffered != nil }

// bodyTouched reports whether the transport read any of the body.
func (x *exchange) bodyTouched() bool { return x.upBytes.Load() > 0 }

// addCancel keeps a per-try context's cancel for finish. Only the
// request's goroutine calls it.
func (x *exchange) addCancel(c context.CancelCauseFunc) { x.cancels = append(x.cancels, c) }

// touch records body activity.
func (x *exchange) touch() { x.last.Store(int64(x.since())) }

// enter moves the exchange to p and re-arms the timer for it. Moving from
// upload to header only happens from upload (the backend may answer before
// it read the whole body, and then we are already in the body phase).
func (x *exchange) enter(p phase) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ph == phaseDone || x.fired != nil || (p == phaseHeader && x.ph > phaseUpload) {
		return
	}
	now := x.since()
	x.ph, x.phStart = p, now
	x.last.Store(int64(now))
	x.armLocked(now)
}

// deadlineLocked returns when (since begin) the current phase or the total
// bound expires, and the error that expiry raises; at < 0 means none.
func (x *exchange) deadlineLocked() (at time.Duration, cause error) {
	at = -1
	switch x.ph {
	case phaseUpload, phaseBody:
		if x.timeouts.Idle > 0 {
			at, cause = time.Duration(x.last.Load())+x.timeouts.Idle, protocol.ErrIdleTimeout
		}
	case phaseHeader:
		if x.timeouts.ResponseHeader > 0 {
			at, cause = x.phStart+x.timeouts.ResponseHeader, protocol.ErrResponseHeaderTimeout
		}
	case phaseDone:
		return -1, nil
	}
	if tot := x.timeouts.Total; tot > 0 && (at < 0 || tot <= at) {
		at, cause = tot, protocol.ErrTotalTimeout
	}
	return at, cause
}

func (x *exchange) armLocked(now time.Duration) {
	at, _ := x.deadlineLocked()
	if at < 0 {
		if x.tm != nil {
			x.tm.Stop()
		}
		return
	}
	d := max(at-now, 0)
	if x.tm == nil {
		x.tm = time.AfterFunc(d, x.fire)
	} else {
		x.tm.Reset(d)
	}
}

// fire runs on the timer goroutine. It re-evaluates from the current state,
// so a stale firing (after a phase change or activity) only re-arms.
func (x *exchange) fire() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ph == phaseDone || x.fired != nil {
		return
	}
	now := x.since()
	at, cause := x.deadlineLocked()
	if at < 0 {
		return
	}
	if cause == protocol.ErrIdleTimeout && x.reading.Load() == 0 {
		// No read is waiting: the copy is busy writing to a slow client,
		// which is the server's write timeout's business, not ours.
		at = now + x.timeouts.Idle
		if tot := x.timeouts.Total; tot > 0 && tot < at {
			at = tot
		}
	}
	if now < at {
		x.tm.Reset(at - now)
		return
	}
	x.fired = cause
	x.cancel(cause)
	if x.ph == phaseUpload {
		// finish cannot run meanwhile (x.mu): the handler is running.
		x.cut = x.cutUpload() == nil
	}
}

// cutUpload ends a read of the client's body that waits on a stalled
// client. Cancelling the exchange does not: http.Transport does not return
// while its write loop is in that read (until the backend answers), and
// net/http takes the body's lock before it writes a response head, so the
// 504 would wait for the client. A read deadline in the past ends the read
// (HTTP/1.1: the connection, which net/http then closes after the
// response, as with any unread body; HTTP/2 and HTTP/3: the stream's
// body). Call it only while the handler runs.
func (x *exchange) cutUpload() error {
	return http.NewResponseController(x.w).SetReadDeadline(time.Unix(1, 0))
}

func (x *exchange) firedErr() error {
	_, fired := x.firedState()
	return fired
}

// firedState reports whether the timeout that fired (fired, if any) cut
// the client's upload.
func (x *exchange) firedState() (cut bool, fired error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cut, x.fired
}

// finish ends the exchange: it stops the timer and releases the outbound
// context. It is deferred by ServeHTTP and also runs when ReverseProxy
// aborts a response mid-body with panic(http.ErrAbortHandler) (body read
// or client write failed, or a timeout cut the stream): it records and
// logs why, then re-raises the panic so net/http closes the connection and
// the client sees a truncated response, never a clean one.
func (x *exchange) finish(r *http.Request) {
	p := recover()
	x.mu.Lock()
	fired := x.fired
	x.ph = phaseDone
	if x.tm != nil {
		x.tm.Stop()
	}
	x.mu.Unlock()
	x.cancel(context.Canceled)
	for _, c := range x.cancels {
		c(context.Canceled)
	}
	if p == nil {
		return
	}
	if x.info.Err == nil {
		switch {
		case fired != nil:
			x.info.Err = fired
		case r.Context().Err() != nil:
			x.info.Err = context.Cause(r.Context())
		default:
			x.info.Err = errAborted
		}
	}
	x.h.logFailure(r, x, x.info.Err, 0)
	panic(p)
}

// uploadBody wraps the outbound request body to record idle time and the
// end of the upload (which starts the response header phase).
type uploadBody struct {
	rc io.ReadCloser
	x  *exchange
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.x.reading.Add(1)
	b.x.touch()
	n, err := b.rc.Read(p)
	b.x.touch()
	b.x.reading.Add(-1)
	b.x.upBytes.Add(int64(n))
	if err == io.EOF {
		if tt := b.x.tryTimer.Load(); tt != nil {
			tt.t.Reset(tt.d)
		}
		b.x.enter(phaseHeader)
	}
	return n, err
}

// Close closes the client's body unless none of it was read yet: the
// transport closes the request body when a try fails, and after a connect
// failure a retry may still send that untouched body. net/http closes
// the client's body when the handler returns in any case.
func (b *uploadBody) Close() error {
	if b.x.upBytes.Load() == 0 && b.x.buffered == nil {
		return nil
	}
	return b.rc.Close()
}

// responseBody wraps the backend's response body to record idle time.
type responseBody struct {
	rc io.ReadCloser
	x  *exchange
}

func (b *responseBody) Read(p []byte) (int, error) {
	b.x.reading.Add(1)
	b.x.touch()
	n, err := b.rc.Read(p)
	b.x.touch()
	b.x.reading.Add(-1)
	return n, err
}

func (b *responseBody) Close() error { return b.rc.Close() }
