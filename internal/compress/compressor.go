package compress

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// Compressor compresses responses on the fly. Build it with New; it is
// immutable and safe for concurrent use, and one Compressor may wrap many
// handlers.
type Compressor struct {
	offer   []Encoding
	pools   [numEncodings]*encoderPool
	minSize int
	types   []typePattern
	sse     bool
	writers sync.Pool // *responseWriter
	bufs    sync.Pool // *[]byte, copyBufSize, for ReadFrom
	// streams counts the responses holding an encoder, bounded by
	// maxStreams (0: no bound).
	streams    atomic.Int64
	maxStreams int64
}

// claim takes a coding slot; false when all maxStreams are in use.
func (c *Compressor) claim() bool {
	if c.maxStreams <= 0 {
		return true
	}
	if c.streams.Add(1) > c.maxStreams {
		c.streams.Add(-1)
		return false
	}
	return true
}

// unclaim gives a slot back (the encoder went back to its pool).
func (c *Compressor) unclaim() {
	if c.maxStreams > 0 {
		c.streams.Add(-1)
	}
}

const copyBufSize = 32 << 10

// copyBuf returns a pooled copy buffer; put it back into c.bufs.
func (c *Compressor) copyBuf() *[]byte {
	if bp, ok := c.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, copyBufSize)
	return &b
}

// New validates opts and builds a Compressor. Errors wrap ErrOptions (or
// ErrUnknownEncoding): no encodings, a duplicate, a level out of range, a
// bad type pattern, MinSize outside 0..MaxMinSize.
func New(opts Options) (*Compressor, error) {
	if len(opts.Encodings) == 0 {
		return nil, fmt.Errorf("%w: at least one encoding is needed", ErrOptions)
	}
	if opts.MinSize < 0 || opts.MinSize > MaxMinSize {
		return nil, fmt.Errorf("%w: min_size %d out of range 0..%d bytes", ErrOptions, opts.MinSize, MaxMinSize)
	}
	if opts.MaxStreams < 0 {
		return nil, fmt.Errorf("%w: max_streams %d is negative", ErrOptions, opts.MaxStreams)
	}
	c := &Compressor{minSize: opts.MinSize, sse: opts.SSE, maxStreams: int64(opts.MaxStreams)}
	for _, e := range opts.Encodings {
		if e == Identity || e >= numEncodings {
			return nil, fmt.Errorf("%w: encoding %d", ErrUnknownEncoding, e)
		}
		if c.pools[e] != nil {
			return nil, fmt.Errorf("%w: %s listed twice", ErrOptions, e)
		}
		level, err := LevelFor(opts.Level, e)
		if err != nil {
			return nil, err
		}
		if l, ok := opts.Levels[e]; ok {
			level = l
		}
		p, err := newEncoderPool(e, level)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOptions, err)
		}
		c.pools[e] = p
		c.offer = append(c.offer, e)
	}
	for e := range opts.Levels {
		if c.pools[e] == nil {
			return nil, fmt.Errorf("%w: a level is set for %s, which is not in encodings", ErrOptions, e)
		}
	}
	types := opts.Types
	if len(types) == 0 {
		types = DefaultTypes()
	}
	for _, t := range types {
		tp, err := compileType(t)
		if err != nil {
			return nil, err
		}
		c.types = append(c.types, tp)
	}
	c.writers.New = func() any { return new(responseWriter) }
	return c, nil
}

// Encodings returns the codings offered, in preference order.
func (c *Compressor) Encodings() []Encoding { return append([]Encoding(nil), c.offer...) }

// compressible reports whether the Content-Type value ct is in the type
// list; text/event-stream only when SSE is on.
func (c *Compressor) compressible(ct string) bool {
	mt := mediaType(ct)
	if mt == "text/event-stream" && !c.sse {
		return false
	}
	for i := range c.types {
		if c.types[i].match(mt) {
			return true
		}
	}
	return false
}

// Handler wraps next: its responses are compressed when the client
// accepts a coding and the response qualifies (see docs/compression.md
// and responseWriter). Upgrade requests (WebSocket) pass untouched.
func (c *Compressor) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header["Upgrade"]) > 0 {
			// An upgraded connection's bytes are not an HTTP body (RFC
			// 9110 section 7.8).
			next.ServeHTTP(w, r)
			return
		}
		enc := Negotiate(r.Header["Accept-Encoding"], c.offer)
		if len(r.Header["Range"]) > 0 {
			// A range refers to the selected representation (RFC 9110
			// section 14.1.2); coding it on the fly would change the
			// bytes the range selects, so a Range request is never
			// compressed here. Pre-compressed files are stored
			// representations and may be (internal/action static).
			enc = Identity
		}
		cw := c.writers.Get().(*responseWriter)
		cw.init(c, w, r, enc)
		ended := false
		defer func() {
			if !ended {
				cw.abandon()
			}
		}()
		next.ServeHTTP(cw, r)
		// Not deferred: after a panic (http.ErrAbortHandler mid-stream)
		// the stream must stay unfinished, so the client sees a cut-off
		// response instead of a well-formed short one; abandon gives
		// the coding slot back then.
		_ = cw.finish() // a write error means the client left; nothing to tell it
		cw.release()
		ended = true
		c.writers.Put(cw)
	})
}
