package listen

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// maxPending bounds the pipelined requests whose responses the guard tracks.
// Past it, the guard no longer knows which request a response answers and
// refuses without writing a response.
const maxPending = 64

// maxStash bounds bytes kept while an Upgrade/CONNECT answer is awaited.
const maxStash = 64 << 10

// lingerTimeout and lingerBytes bound the drain after our error response, so
// the kernel does not answer unread client bytes with a RST that destroys the
// response in flight (the same reason as net/http's closeWriteAndWait).
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 256 << 10
)

// errNoCloseWrite: the inner connection cannot half-close.
var errNoCloseWrite = errors.New("listen: connection has no CloseWrite")

// GuardOption configures GuardListener and GuardConn.
type GuardOption func(*guardOptions)

type guardOptions struct{ log *slog.Logger }

// WithGuardLogger makes the guard log one Info record per refused request
// (remote address, status, reason). Default: no logging.
func WithGuardLogger(log *slog.Logger) GuardOption {
	return func(o *guardOptions) {
		if log != nil {
			o.log = log
		}
	}
}

// GuardListener wraps l so that every accepted connection is a GuardConn with
// the given limits. Limits are validated by the config package; a negative
// field here falls back to its default.
func GuardListener(l net.Listener, limits protocol.FramingLimits, opts ...GuardOption) net.Listener {
	return &guardListener{Listener: l, limits: limits, opts: opts}
}

type guardListener struct {
	net.Listener
	limits protocol.FramingLimits
	opts   []GuardOption
}

// Accept returns the next connection wrapped by GuardConn.
func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return GuardConn(c, l.limits, l.opts...), nil
}

// GuardConn wraps c, which must carry plaintext HTTP/1.x from a client: for
// TLS, wrap the *tls.Conn after its handshake (and hand ALPN "h2" connections
// to the HTTP/2 server instead; a wrapped *tls.Conn is no longer one to
// net/http, which then neither does the handshake nor dispatches ALPN).
//
// Every byte Read returns has first been checked by a
// protocol.FramingScanner. A request with ambiguous or malformed framing is
// never returned: the bytes before it are; then Read waits until every earlier
// response has been written, answers 400/414/431/505 directly on c,
// half-closes c and returns io.EOF. Writes are watched to learn where
// responses end and whether an Upgrade or CONNECT was accepted (101 / 2xx),
// after which the connection passes through unchecked, as it does for the h2c
// preface or ALPN h2. Read and Write may be called concurrently, as net/http
// does. The result implements CloseWrite, ReadFrom (sendfile/splice for
// Content-Length bodies) and, if c does, ConnectionState. A negative limit
// falls back to its default.
func GuardConn(c net.Conn, limits protocol.FramingLimits, opts ...GuardOption) net.Conn {
	o := guardOptions{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	req, err := protocol.NewFramingScanner(limits)
	if err != nil {
		req, _ = protocol.NewFramingScanner(protocol.FramingLimits{
			MaxURIBytes: max(limits.MaxURIBytes, 0), MaxHeaderBytes: max(limits.MaxHeaderBytes, 0),
			MaxChunkExtBytes: max(limits.MaxChunkExtBytes, 0),
		})
	}
	g := &guardConn{Conn: c, req: req, resp: protocol.NewResponseScanner(), log: o.log}
	if _, ok := c.(connectionStater); ok {
		// Keep ConnectionState visible so net/http fills Request.TLS.
		return &tlsGuardConn{g}
	}
	return g
}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// reqKind is what the response tracker must know about a request.
type reqKind struct{ head, connect, upgrade bool }

type guardConn struct {
	net.Conn
	log *slog.Logger

	wmu sync.Mutex // serialises writes to Conn: net/http's and our error response
	mu  sync.Mutex // guards the fields below; never held across I/O

	req, resp   *protocol.FramingScanner
	queue       [maxPending]reqKind // requests delivered, awaiting a final response
	qHead, qLen int
	respLost    bool // responses can no longer be matched to requests
	passthrough bool
	alpnChecked bool
	pend        []byte // bytes to return before reading more (passthrough only)
	refusal     protocol.Verdict
	answer      bool // write the refusal (nothing of the refused request was handled)
	done        bool
}

// Read implements net.Conn; see GuardConn.
func (g *guardConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return g.Conn.Read(p)
	}
	g.mu.Lock()
	switch {
	case g.passthrough:
		return g.readPassthrough(p)
	case g.done:
		g.mu.Unlock()
		return 0, io.EOF
	case g.refusal.Action == protocol.Reject:
		return g.refuse(p)
	}
	g.mu.Unlock()

	n, err := g.Conn.Read(p)

	g.mu.Lock()
	if !g.alpnChecked {
		g.alpnChecked = true
		// An h2 connection (ALPN, RFC 9113 §3.2) is not HTTP/1.1 framing.
		if cs, ok := g.Conn.(connectionStater); ok && cs.ConnectionState().NegotiatedProtocol == "h2" {
			g.passthrough = true
		}
	}
	if g.passthrough {
		g.mu.Unlock()
		return n, err
	}
	n = g.scan(p[:n])
	g.mu.Unlock()
	if n == 0 && err == nil {
		// The refused request starts at the first byte: refuse now
		// rather than return (0, nil).
		return g.Read(p)
	}
	return n, err
}

// readPassthrough serves stashed bytes first; called with mu held.
func (g *guardConn) readPassthrough(p []byte) (int, error) {
	if len(g.pend) > 0 {
		n := copy(p, g.pend)
		g.pend = g.pend[n:]
		g.mu.Unlock()
		return n, nil
	}
	g.mu.Unlock()
	return g.Conn.Read(p)
}

// scan feeds b to the request scanner and returns how many leading bytes of b
// may be delivered. Called with mu held.
func (g *guardConn) scan(b []byte) int {
	base := g.req.Offset()
	// A head completed in an earlier read may already be in a handler.
	headDelivered := g.req.HeadComplete()
	rest := b
	for len(rest) > 0 {
		n, v := g.req.Feed(rest)
		rest = rest[n:]
		switch v.Action {
		case protocol.MessageEnd:
			info := g.req.Info()
			if g.qLen == maxPending {
				g.respLost = true
				continue
			}
			g.queue[(g.qHead+g.qLen)%maxPending] = reqKind{head: info.Head, connect: info.Connect, upgrade: info.Upgrade}
			if g.qLen == 0 && g.resp.AtBoundary() {
				g.resp.ExpectResponseTo(info.Head, info.Connect)
			}
			g.qLen++
		case protocol.Passthrough:
			g.passthrough = true
			return len(b)
		case protocol.Reject:
			cut := max(int(g.req.MessageStart()-base), 0)
			g.refusal = v
			// Answer only if no part of the refused request reached
			// a handler; otherwise net/http owns the response.
			g.answer = !headDelivered || g.req.MessageStart() >= base
			if g.awaitingTunnel() {
				// The client may have sent tunnel bytes early; keep them
				// in case the answer is 101 / 2xx.
				g.pend = append(g.pend, b[cut:]...)
			}
			g.log.Info("refused request", "remote", g.Conn.RemoteAddr().String(),
				"status", v.Status, "reason", v.Reason)
			return cut
		}
	}
	return len(b)
}

// awaitingTunnel: an Upgrade or CONNECT request is among those unanswered.
func (g *guardConn) awaitingTunnel() bool {
	for i := range g.qLen {
		k := g.queue[(g.qHead+i)%maxPending]
		if k.upgrade || k.connect {
			return true
		}
	}
	return false
}

// refuse ends the connection after a refused request. While earlier requests
// still await their responses (net/http may be running a handler and reading
// in the background) it keeps reading, so that deadlines and a client close
// behave as usual, until the responses are written. Called with mu held;
// returns with mu released.
func (g *guardConn) refuse(p []byte) (int, error) {
	for {
		if g.passthrough {
			return g.readPassthrough(p)
		}
		busy := g.qLen > 0 || !g.resp.AtBoundary()
		if !busy {
			break
		}
		keep := g.awaitingTunnel() && len(g.pend) < maxStash
		g.mu.Unlock()
		n, err := g.Conn.Read(p)
		g.mu.Lock()
		if keep && !g.passthrough {
			g.pend = append(g.pend, p[:n]...)
		} else if g.passthrough && n > 0 {
			// The tunnel opened while we were reading.
			g.pend = append(g.pend, p[:n]...)
		}
		if err != nil {
			g.mu.Unlock()
			return 0, err
		}
	}
	g.done = true
	answer, v := g.answer && !g.respLost, g.refusal
	g.pend = nil
	g.mu.Unlock()
	if answer {
		g.respond(v.Status)
	}
	return 0, io.EOF
}

// respond writes the minimal error response, half-closes and drains.
func (g *guardConn) respond(status int) {
	g.wmu.Lock()
	_, err := io.WriteString(g.Conn, protocol.RefusalResponse(status))
	g.wmu.Unlock()
	if err != nil {
		return
	}
	if g.CloseWrite() != nil {
		return
	}
	if g.Conn.SetReadDeadline(time.Now().Add(lingerTimeout)) == nil {
		_, _ = io.CopyN(io.Discard, g.Conn, lingerBytes)
	}
}

// Write implements net.Conn. It watches the response stream (RFC 9112 §6.3)
// to know when each response ends and whether the connection switched
// protocols, then writes b unchanged.
func (g *guardConn) Write(b []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	g.track(b)
	g.mu.Unlock()
	return g.Conn.Write(b)
}

// track feeds written bytes to the response scanner. Called with mu held.
func (g *guardConn) track(b []byte) {
	for len(b) > 0 && !g.passthrough && !g.respLost {
		n, v := g.resp.Feed(b)
		b = b[n:]
		switch v.Action {
		case protocol.MessageEnd:
			g.responseEnded()
		case protocol.Reject, protocol.Passthrough:
			g.respLost = true
		}
	}
}

// responseEnded accounts for one complete response. Called with mu held.
func (g *guardConn) responseEnded() {
	info := g.resp.Info()
	if info.Interim {
		return // 1xx: the final response is still to come
	}
	var k reqKind
	if g.qLen > 0 {
		k = g.queue[g.qHead]
		g.qHead, g.qLen = (g.qHead+1)%maxPending, g.qLen-1
	}
	// RFC 9110 §15.2.2 (101) and §9.3.6 (2xx to CONNECT): the bytes
	// after this response are another protocol in both directions.
	if info.Status == 101 || (k.connect && info.Status >= 200 && info.Status < 300) {
		g.passthrough = true
		g.req.StartPassthrough()
		return
	}
	if g.qLen > 0 {
		next := g.queue[g.qHead]
		g.resp.ExpectResponseTo(next.head, next.connect)
	} else {
		g.resp.ExpectResponseTo(false, false)
	}
}

// ReadFrom lets net/http's sendfile/splice path reach the socket for a
// Content-Length body (the only case net/http uses it), accounting the
// bytes to the response tracker without seeing them.
func (g *guardConn) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := g.Conn.(io.ReaderFrom)
	g.wmu.Lock()
	g.mu.Lock()
	remain, inBody := g.resp.InBody()
	untracked := g.passthrough || g.respLost
	g.mu.Unlock()
	if !ok || (!untracked && !inBody) {
		g.wmu.Unlock()
		return io.Copy(writerOnly{g}, src)
	}
	if untracked {
		defer g.wmu.Unlock()
		return rf.ReadFrom(src)
	}
	n, err := rf.ReadFrom(io.LimitReader(src, int64(remain)))
	g.mu.Lock()
	if v := g.resp.SkipBody(uint64(n)); v.Action == protocol.MessageEnd {
		g.responseEnded()
	}
	g.mu.Unlock()
	g.wmu.Unlock()
	if err != nil || uint64(n) < remain {
		return n, err
	}
	// More than the declared length: let Write see it (net/http reports
	// the error to the handler).
	m, err := io.Copy(writerOnly{g}, src)
	return n + m, err
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

// CloseWrite half-closes the connection if the inner one can (net/http uses
// it to let a client read an error response before the close).
func (g *guardConn) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// tlsGuardConn keeps the inner connection's ConnectionState visible.
type tlsGuardConn struct{ *guardConn }

// ConnectionState returns the inner TLS connection's state.
func (t *tlsGuardConn) ConnectionState() tls.ConnectionState {
	return t.Conn.(connectionStater).ConnectionState()
}
