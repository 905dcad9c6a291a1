package runtime

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// countingBody counts request body bytes read by the chain, and bounds the
// gap between two reads of the body (server.read_timeout): a client that
// stops sending mid-upload is cut off, while a large upload that keeps
// moving is never cut, however long it takes.
type countingBody struct {
	io.ReadCloser
	n    int64
	gate *readGate
	gap  time.Duration
}

// newCountingBody wraps a request body; its deadlines go through rec's
// gate.
func newCountingBody(body io.ReadCloser, rec *recorder, gap time.Duration) *countingBody {
	return &countingBody{ReadCloser: body, gate: &rec.reads, gap: gap}
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.gap > 0 {
		// Errors mean the connection cannot take deadlines; the read then
		// goes on unbounded, as before.
		_ = b.gate.set(time.Now().Add(b.gap))
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && b.gap > 0 {
		// The body is over (EOF) or broken: lift the deadline. Left in
		// place, it would fire during a long response (a model thinking,
		// an SSE stream) on net/http's background read of the connection,
		// which takes any read error for a departed client and cancels
		// the request's context: the exchange would be cut read_timeout
		// after the upload ended.
		_ = b.gate.set(time.Time{})
	}
	return n, err
}

// readGate serializes the read deadlines of one request's connection (or
// HTTP/2 stream). Two parties set them: countingBody re-arms
// server.read_timeout before every body read, and the proxy's exchange
// timer cuts a stalled upload with a deadline in the past (through
// http.ResponseController, which reaches recorder.SetReadDeadline). Unserialized,
// a re-arm that ran just after the cut replaced it, and the client's 504
// waited up to read_timeout instead of coming at once. A deadline in the
// past ends the upload for good: after it, nothing is re-armed or lifted,
// while another cut is still applied (a reader that bypasses the gate may
// have set a deadline of its own).
//
// Once the handler has returned (close), nothing is set at all: x/net
// recycles a stream's writer then, and http.Transport may still read the
// request body after RoundTrip returned (its documentation allows it).
type readGate struct {
	rc *http.ResponseController

	mu     sync.Mutex
	cut    bool
	closed bool
}

// errGateClosed: a deadline set after the handler returned.
var errGateClosed = errors.New("runtime: request finished")

func (g *readGate) set(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errGateClosed
	}
	past := !t.IsZero() && !t.After(time.Now())
	if g.cut && !past {
		return nil
	}
	if past {
		g.cut = true
	}
	return g.rc.SetReadDeadline(t)
}

// close ends the gate; it runs before the handler returns.
func (g *readGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
