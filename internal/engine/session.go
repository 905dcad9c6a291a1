package engine

import (
	"io"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Buffer sizes. A connection holds none of them while it is idle.
const (
	// inSize holds a typical request head and small pipelined requests;
	// a larger head grows the buffer (up to the framing limits) for that
	// connection, and the grown buffer is dropped, not pooled, at release.
	inSize = 4 << 10
	// outSize is the exchange buffer: the outbound head, then the
	// response head and body reads. 16 KiB keeps streamed bodies in few
	// syscalls; fixed-length bodies past it are spliced.
	outSize = 16 << 10
	// scratchSize holds a response head built for the client.
	scratchSize = 4 << 10
)

// session is the per-request state a connection borrows from the pool
// while it has bytes to process, so an idle connection holds no buffer.
type session struct {
	in      []byte
	out     []byte
	scratch []byte
	// sc scans the client's requests. It lives here, not in the conn, so
	// an idle connection does not hold its few hundred bytes; it is only
	// ever released between messages or when the connection ends, and is
	// reset to a fresh scanner on release.
	sc   protocol.FramingScanner
	req  Request
	body bodyReader
	lr   io.LimitedReader
	x    exchange // the native proxy's per-exchange state
}

// bufPool pools sessions.
type bufPool struct {
	p sync.Pool
	// fresh is a new request scanner with the server's limits, copied
	// over a session's scanner to reset it (the scanner holds no
	// pointers, so a copy is a fresh scanner).
	fresh protocol.FramingScanner
}

// newBufPool returns a pool of sessions whose scanners enforce limits.
func newBufPool(limits protocol.FramingLimits) (*bufPool, error) {
	sc, err := protocol.NewFramingScanner(limits)
	if err != nil {
		return nil, err
	}
	p := &bufPool{fresh: *sc}
	p.p.New = func() any {
		return &session{
			in:      make([]byte, inSize),
			out:     make([]byte, outSize),
			scratch: make([]byte, 0, scratchSize),
			sc:      p.fresh,
		}
	}
	return p, nil
}

func (p *bufPool) get() *session { return p.p.Get().(*session) }

// put returns s; buffers grown past their class are dropped so the pool
// keeps its memory bound.
func (p *bufPool) put(s *session) {
	if len(s.in) != inSize {
		s.in = make([]byte, inSize)
	}
	if cap(s.scratch) > 4*scratchSize {
		s.scratch = make([]byte, 0, scratchSize)
	}
	s.sc = p.fresh
	s.req.reset()
	s.req.c = nil
	s.body = bodyReader{}
	s.lr = io.LimitedReader{}
	s.x.reset()
	p.p.Put(s)
}
