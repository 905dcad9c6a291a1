package engine

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrBadBody is returned (wrapped) by body reads when the request body's
// framing is malformed (RFC 9112 §7.1); the connection cannot continue.
var ErrBadBody = errors.New("engine: malformed request body framing")

// continue100 is the interim response sent before reading a body the
// client holds back (RFC 9110 §10.1.1, §15.2.1).
const continue100 = "HTTP/1.1 100 Continue\r\n\r\n"

// spliceMin is the Content-Length remainder from which an upload is moved
// with splice(2) instead of through the buffer.
const spliceMin = 64 << 10

// bodyReader streams the current request's body. Every byte passes through
// the connection's FramingScanner before anyone sees it, so the end of a
// chunked body is known exactly and a malformed one is refused. Read
// returns the decoded body (handlers); raw returns the framed bytes as
// received (the proxy forwards chunked framing as is).
type bodyReader struct {
	c       *conn
	req     *Request
	done    bool // the message ended (or had no body)
	err     error
	sent100 bool
	ck      dechunker
	n       int64 // framed body bytes received, for the access log
	// base is where body reads may start in the connection buffer: the
	// end of the request head, whose bytes the Request's strings view
	// until the handler returns (request.go). 0 once the body moved to a
	// fresh buffer.
	base int
}

// minBodyRoom is the least room a body read gets after the head; with
// less, the body moves to a fresh buffer and the old one stays with the
// head (it is not pooled again).
const minBodyRoom = 1 << 10

// BodyBytes returns the request body bytes received so far, as framed on
// the wire (chunk framing included).
func (r *Request) BodyBytes() int64 {
	if r.c == nil {
		return 0
	}
	return r.c.s.body.n
}

// Body returns the request body, decoded (chunked framing removed). It
// reads from the connection on demand; the first read sends "100
// Continue" when the client asked for it. Valid until the handler returns.
func (r *Request) Body() io.Reader {
	if r.c == nil {
		return eofReader{}
	}
	return &r.c.s.body
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (b *bodyReader) begin(c *conn, req *Request) {
	*b = bodyReader{c: c, req: req, done: !req.HasBody(), base: c.r}
}

// maybeContinue sends 100 Continue if the client waits for it and no
// final response has started.
func (b *bodyReader) maybeContinue() {
	if b.req.expect100 && !b.sent100 && !b.c.rw.wrote && b.req.ProtoMinor >= 1 {
		b.sent100 = true
		b.c.armWrite()
		_, _ = io.WriteString(b.c.nc, continue100)
	}
}

// raw returns up to max framed body bytes, reading from the client when
// nothing is buffered. It returns io.EOF once the message has ended.
func (b *bodyReader) raw(max int) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.done {
		return nil, io.EOF
	}
	c := b.c
	if c.r == c.w {
		b.maybeContinue()
		// Refill after the head, never over it: the Request (method,
		// path, host, header values) views those bytes, and the handler
		// and the access log read them after the body.
		if len(c.s.in)-b.base < minBodyRoom {
			c.s.in = make([]byte, inSize)
			b.base = 0
		}
		c.r, c.w = b.base, b.base
		c.setReadTimeout(c.srv.cfg.BodyTimeout)
		err := c.fill()
		c.setReadTimeout(0)
		if err != nil {
			if errors.Is(err, errClosedByPeer) {
				err = io.ErrUnexpectedEOF
			}
			b.err = fmt.Errorf("reading request body: %w", err)
			return nil, b.err
		}
	}
	end := min(c.w, c.r+max)
	n, v := c.s.sc.Feed(c.s.in[c.r:end])
	p := c.s.in[c.r : c.r+n]
	c.r += n
	b.n += int64(n)
	switch v.Action {
	case protocol.MessageEnd:
		b.done = true
	case protocol.Reject:
		b.err = fmt.Errorf("%w: %s", ErrBadBody, v.Reason)
		return nil, b.err
	}
	return p, nil
}

// Read implements io.Reader over the decoded body.
func (b *bodyReader) Read(p []byte) (int, error) {
	for len(p) > 0 {
		raw, err := b.raw(len(p))
		if err != nil {
			return 0, err
		}
		if !b.req.chunked {
			return copy(p, raw), nil
		}
		if n := b.ck.decode(raw, p); n > 0 {
			return n, nil
		}
	}
	return 0, nil
}

// drain discards the rest of the body to keep the connection, up to
// drainBytes. It reports whether the body ended.
func (b *bodyReader) drain() bool {
	if b.req.expect100 && !b.sent100 {
		// The client may never send a body we did not ask for; the
		// connection's state is unknown, so it closes (as net/http).
		return false
	}
	var n int
	for n < drainBytes {
		p, err := b.raw(drainBytes - n)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		n += len(p)
	}
	return b.done
}

// spliceTo moves the rest of a Content-Length body to dst with splice(2)
// when that is possible and worth it (nothing buffered, at least
// spliceMin left, plain TCP client). handled is false when it did nothing.
// armDst arms dst's write deadline before each MiB (a backend that stops
// reading is cut; one that keeps reading never is). A failure on dst's
// side is returned without marking the body broken (b.err): the client
// did nothing wrong, and the backend may have answered early.
func (b *bodyReader) spliceTo(dstIO *fdIO, dst *net.TCPConn, armDst func()) (n int64, handled bool, err error) {
	c := b.c
	remain, ok := c.s.sc.InBody()
	if !ok || b.done || b.err != nil || c.r != c.w || remain < spliceMin || c.tcp == nil || b.req.chunked {
		return 0, false, nil
	}
	b.maybeContinue()
	for remain > 0 {
		c.setReadTimeout(c.srv.cfg.BodyTimeout)
		armDst()
		want := int64(min(remain, 1<<20))
		m, err := int64(0), errNoPipe
		if dstIO.rc != nil && c.io.rc != nil {
			m, err = spliceCopy(dstIO, &c.io, want)
		}
		if err == errNoPipe { // nothing moved: copy through the kernel's ReadFrom
			c.s.lr = io.LimitedReader{R: c.tcp, N: want}
			m, err = dst.ReadFrom(&c.s.lr)
		}
		n += m
		remain -= uint64(m)
		if v := c.s.sc.SkipBody(uint64(m)); v.Action == protocol.MessageEnd {
			b.done = true
		}
		if err == nil && m < want {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			c.setReadTimeout(0)
			if errors.Is(err, errSpliceOut) {
				return n, true, fmt.Errorf("sending request body: %w", err)
			}
			b.err = fmt.Errorf("reading request body: %w", err)
			return n, true, b.err
		}
	}
	c.setReadTimeout(0)
	return n, true, nil
}

// dechunker removes chunked framing (RFC 9112 §7.1) from bytes the
// FramingScanner has already validated, so it only tracks positions.
type dechunker struct {
	st     uint8
	remain uint64
	size   uint64
	lineSt bool
}

const (
	ckSize uint8 = iota
	ckExt
	ckSizeLF
	ckData
	ckDataCR
	ckDataLF
	ckTrailer
	ckTrailerLine
	ckEndLF
	ckDone
)

// decode appends the data bytes of in to out (len(out) >= len(in)) and
// returns how many it wrote.
func (d *dechunker) decode(in, out []byte) int {
	n := 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch d.st {
		case ckSize:
			switch {
			case c == '\r':
				d.st = ckSizeLF
			case c == ';' || c == ' ' || c == '\t':
				d.st = ckExt
			default:
				d.size = d.size<<4 | uint64(unhex(c))
			}
		case ckExt:
			if c == '\r' {
				d.st = ckSizeLF
			}
		case ckSizeLF:
			if d.size == 0 {
				d.st, d.lineSt = ckTrailer, true
			} else {
				d.st, d.remain = ckData, d.size
			}
			d.size = 0
		case ckData:
			k := int(min(uint64(len(in)-i), d.remain))
			n += copy(out[n:], in[i:i+k])
			d.remain -= uint64(k)
			i += k - 1
			if d.remain == 0 {
				d.st = ckDataCR
			}
		case ckDataCR:
			d.st = ckDataLF
		case ckDataLF:
			d.st = ckSize
		case ckTrailer:
			if c == '\r' {
				d.st = ckEndLF
			} else {
				d.st = ckTrailerLine
			}
		case ckTrailerLine:
			if c == '\n' {
				d.st = ckTrailer
			}
		case ckEndLF:
			d.st = ckDone
		}
	}
	return n
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
