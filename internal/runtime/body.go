package runtime

import (
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
// past ends the upload for good: after it, nothing is re-armed or lifted.
type readGate struct {
	rc *http.ResponseController

	mu     sync.Mutex
	cut    bool
	cutErr error // what setting the cut returned
}

func (g *readGate) set(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cut {
		return g.cutErr
	}
	err := g.rc.SetReadDeadline(t)
	if !t.IsZero() && !t.After(time.Now()) {
		g.cut, g.cutErr = true, err
	}
	return err
}
