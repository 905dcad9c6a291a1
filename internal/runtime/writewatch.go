package runtime

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// writeWatch bounds each write of an HTTP/2 or HTTP/3 response by
// server.write_timeout, as HTTP/1.1 bounds it with a deadline per write
// (recorder.armWrite).
//
// Those protocols multiplex streams over one connection, each with its own
// flow-control window (RFC 9113 §5.2, RFC 9000 §4.1). A client that stops
// granting a stream window blocks the handler's writes on that stream
// while the connection carries on, so the connection's own bound (a
// connection that takes no byte for write_timeout is closed,
// listen/h2.go) never fires, and the handler, its upstream connection and
// the backend's exchange are held as long as the client likes: 250 streams
// a connection. A stream write deadline cannot simply be left armed:
// x/net resets a stream when its deadline passes even if no write is
// waiting (a quiet SSE stream, a model thinking), and arming and clearing
// it around every write makes x/net allocate a timer per write.
//
// So one timer per response watches: started by the first write, it fires
// write_timeout after the write in progress began (or write_timeout after
// its last tick when none is), and once a write has waited write_timeout
// it sets a write deadline in the past, which resets the stream (HTTP/2:
// RST_STREAM) or fails the write (HTTP/3), and the handler unwinds. A
// response whose writes keep completing is never cut, however long it
// runs; as on HTTP/1.1, a single write that waits write_timeout is cut,
// even on a connection so shared by other streams that the client,
// though reading, takes that long to get to it.
//
// Not watched: the flush x/net and quic-go make after the handler
// returns (the last few KiB and the end of the stream). A stall there
// holds the stream's slot, not the exchange: the upstream connection is
// released by then.
type writeWatch struct {
	rc  *http.ResponseController
	gap time.Duration
	// since is when the write in progress began (UnixNano); 0: none.
	since atomic.Int64
	// started: the timer exists (or stop came first).
	started atomic.Bool

	// mu orders the timer's cut against stop: x/net recycles a stream's
	// writer once the handler returns, so no cut may run after stop.
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

// on reports whether writes are watched (gap 0: HTTP/1.x, or no
// write_timeout).
func (w *writeWatch) on() bool { return w.gap > 0 }

// begin marks a write as started; the timer starts with the first one.
func (w *writeWatch) begin() {
	w.since.Store(time.Now().UnixNano())
	if !w.started.Load() {
		w.mu.Lock()
		if w.t == nil && !w.stopped {
			w.t = time.AfterFunc(w.gap, w.tick)
		}
		w.started.Store(true)
		w.mu.Unlock()
	}
}

// end marks the write as done.
func (w *writeWatch) end() { w.since.Store(0) }

// tick runs on the timer's goroutine.
func (w *writeWatch) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	next := w.gap
	if s := w.since.Load(); s != 0 {
		waited := time.Duration(time.Now().UnixNano() - s)
		if waited >= w.gap {
			// A deadline in the past: x/net resets the stream at once,
			// quic-go fails the blocked write.
			_ = w.rc.SetWriteDeadline(time.Unix(1, 0))
			return
		}
		next = w.gap - waited
	}
	w.t.Reset(next)
}

// stop ends the watch; it runs before the handler returns.
func (w *writeWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.t != nil {
		w.t.Stop()
	}
}
