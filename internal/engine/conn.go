package engine

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Linger after an error response or an unread body, so the kernel does not
// answer unread client bytes with a RST that destroys the response in
// flight (the reason for net/http's closeWriteAndWait, and the guard's).
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 256 << 10
	// drainBytes bounds how much of an unread request body is discarded
	// to keep a connection alive; a longer rest closes the connection.
	drainBytes = 256 << 10
)

// conn is one client connection, served by one goroutine (serve).
type conn struct {
	srv *Server
	nc  net.Conn
	tcp *net.TCPConn // nc when it is one: splice, CloseWrite
	// io does the raw reads, writes and splices; io.rc is nil when nc
	// has no file descriptor.
	io   fdIO
	peer netip.AddrPort

	s    *session // nil while idle
	r, w int      // s.in[r:w] is read but not yet consumed
	// rawFill's results and whether it took s from the pool itself.
	n     int
	err   error
	fresh bool
	park  bool // rawFill peeks before borrowing a session (see there)
	peekb [1]byte
	// reqs counts the requests served, up to 2 (see idleGraceFirst).
	reqs   uint8
	readFn func(fd uintptr) bool

	// rdl and wdl are the read and write deadlines armed on nc (see
	// armedDeadline).
	rdl, wdl armedDeadline
	// idleAt is the end of the current idle wait (zero: none), kept for
	// the goroutine that takes the wait over (idleWait).
	idleAt time.Time

	rw        ResponseWriter
	handedOff bool
	busy      atomic.Bool
	closing   atomic.Bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc}
	if tc, ok := nc.(*net.TCPConn); ok {
		c.tcp = tc
		c.peer = tc.RemoteAddr().(*net.TCPAddr).AddrPort()
	} else if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.peer = ap
	}
	if c.io.init(nc) {
		c.readFn = c.rawFill
	}
	c.rw.c = c
	return c
}

// errClosedByPeer: the client closed the connection (EOF).
var errClosedByPeer = errors.New("engine: connection closed by peer")

// acquire makes sure the connection holds a session.
func (c *conn) acquire() {
	if c.s == nil {
		c.s = c.srv.pool.get()
		c.s.req.c = c
	}
}

// release returns the session to the pool when nothing is buffered.
func (c *conn) release() {
	if c.s != nil && c.r == c.w {
		c.srv.pool.put(c.s)
		c.s, c.r, c.w = nil, 0, 0
	}
}

// fill reads more bytes into s.in[w:], making room first. While idle (no
// session), it reads through the raw connection so that a pooled buffer is
// taken only when data is ready: the first read attempt borrows a buffer
// and gives it back if the socket has nothing (EAGAIN), then waits in the
// poller holding nothing. That is the same syscalls as a plain Read.
func (c *conn) fill() error {
	if c.s != nil {
		c.makeRoom()
	}
	if c.io.rc == nil {
		c.acquire()
		n, err := c.nc.Read(c.s.in[c.w:])
		c.w += n
		if n > 0 {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			return errClosedByPeer
		}
		return err
	}
	c.n, c.err, c.fresh = 0, nil, false
	if err := c.io.rc.Read(c.readFn); err != nil {
		return err
	}
	if c.err != nil {
		return c.err
	}
	if c.n == 0 {
		return errClosedByPeer
	}
	c.w += c.n
	return nil
}

// rawFill is the syscall.RawConn read callback; false means "wait until
// readable and call again".
func (c *conn) rawFill(fd uintptr) bool {
	if c.park {
		// A fresh goroutine taking over an idle wait (idleWait) borrows
		// a session only when the socket is readable: getting one can
		// be deep enough (sync.Pool, a new session's allocation) to
		// grow its small stack for good. It cannot simply park first:
		// RawRead cleared the poller's readiness mark before calling
		// us, so bytes that arrived since the previous goroutine's wait
		// ended would never wake it. A one-byte peek into the conn
		// tells, without a buffer; after it, any new byte is a new
		// edge for the poller.
		c.park = false
		if !peekReady(fd, &c.peekb) {
			return false
		}
	}
	if c.s == nil {
		c.acquire()
		c.fresh = true
	}
	for {
		n, e := rawRead(fd, c.s.in[c.w:])
		switch e {
		case 0:
			c.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.fresh && c.r == c.w {
				c.release()
				c.fresh = false
			}
			return false
		default:
			c.err = os.NewSyscallError("read", e)
			return true
		}
	}
}

// write sends all of p to the client.
func (c *conn) write(p []byte) (int, error) {
	if c.io.rc != nil {
		return c.io.write(p)
	}
	return c.nc.Write(p)
}

// peekReady reports whether a read of fd would not block: bytes, the
// peer's close or an error are pending. It consumes nothing.
func peekReady(fd uintptr, b *[1]byte) bool {
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}

// makeRoom compacts or grows s.in so that at least some bytes can be read.
func (c *conn) makeRoom() {
	in := c.s.in
	if c.w < len(in) {
		return
	}
	if c.r > 0 {
		c.w = copy(in, in[c.r:c.w])
		c.r = 0
		return
	}
	// A head longer than the buffer: grow, bounded by the limits (the
	// scanner refuses a head past MaxHeaderBytes before this stops).
	bigger := make([]byte, 2*len(in))
	copy(bigger, in[:c.w])
	c.s.in = bigger
}

// setReadTimeout arms the read deadline; d == 0 clears it.
func (c *conn) setReadTimeout(d time.Duration) {
	var t time.Time
	if d > 0 {
		t = c.srv.now().Add(d)
	}
	c.setReadDeadline(t)
}

// setReadDeadline arms t unconditionally and records it.
func (c *conn) setReadDeadline(t time.Time) {
	c.rdl.set(t)
	_ = c.nc.SetReadDeadline(t)
}

// armIdleTimeout arms the wait for the next request, keeping the deadline
// already armed when it is close enough (armedDeadline): every client read
// arms its own deadline first, so a deadline left armed while a request
// is served (the previous idle one) is harmless, and re-arming the same
// timeout on every keep-alive request is pure timer work.
func (c *conn) armIdleTimeout(d time.Duration) {
	var t, now time.Time
	if d > 0 {
		now = c.srv.now()
		t = now.Add(d)
	}
	if c.rdl.update(t, now) {
		_ = c.nc.SetReadDeadline(t)
	}
}

// idleGrace is how long a connection waits for its next request on the
// goroutine that served the last one before it hands the wait to a fresh
// goroutine (idleWait). Serving a request grows a goroutine's stack to
// several KiB, and nothing shrinks it while the connection is idle (the
// GC shrinks stacks, and an idle proxy does not allocate); a fresh
// goroutine parks in the poller with the minimum stack, which is most of
// an idle connection's memory. A busy keep-alive connection sends its
// next request well within the grace and never switches goroutines; an
// idle one pays one goroutine start.
//
// A connection that has served only one request gets idleGraceFirst
// instead: most connections that are reused are reused at once, and the
// shorter grace bounds how many grown stacks exist at a time when many
// connections open together. That bound is what RSS sees: a freed stack
// returns to the Go heap, not to the OS (the scavenger only runs from the
// second GC on, and an idle proxy does not allocate), so the process
// keeps its peak. Moving after the first request costs a reused
// connection one goroutine start and one stack growth, once.
const (
	idleGrace      = 200 * time.Millisecond
	idleGraceFirst = 20 * time.Millisecond
)

// The outcomes of idleWait.
const (
	idleData = iota // bytes arrived
	idleMove        // the grace ran out: continue on a fresh goroutine
	idleEnd         // the idle timeout, a close or an error: end
)

// idleWait waits for the next request on a connection that has served
// one on this goroutine, for at most the grace (idleGrace, or
// idleGraceFirst; the idle timeout if that is sooner). The deadline armed
// for that is kept while it lies between a quarter of the grace and the
// grace ahead, so a busy connection arms a timer about once per 150 ms,
// not once per request.
func (c *conn) idleWait() int {
	now := c.srv.now()
	c.idleAt = time.Time{}
	if d := c.srv.cfg.IdleTimeout; d > 0 {
		c.idleAt = now.Add(d)
	}
	grace := idleGrace
	if c.reqs < 2 {
		grace = idleGraceFirst
	}
	g := now.Add(grace)
	if !c.idleAt.IsZero() && c.idleAt.Before(g) {
		g = c.idleAt
	}
	if a := c.rdl.t; a.IsZero() || a.After(g) || a.Before(now.Add(grace/4)) {
		c.setReadDeadline(g)
	}
	err := c.fill()
	if err == nil {
		return idleData
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || c.closing.Load() {
		return idleEnd
	}
	if !c.idleAt.IsZero() && !c.srv.now().Before(c.idleAt) {
		return idleEnd // the idle timeout itself
	}
	c.release() // the plain-Read path holds a session while it waits
	// Arm the rest of the idle wait here: a timer update is deep enough
	// in the runtime to grow the fresh goroutine's stack. Checked after
	// arming: a Shutdown that ran before it set its flag first, one that
	// runs after it overrides the deadline.
	c.setReadDeadline(c.idleAt)
	if c.closing.Load() {
		return idleEnd
	}
	c.park = true
	return idleMove
}

// serve runs the connection's request loop, from its first request.
func (c *conn) serve() { c.loop(false) }

// resume continues the request loop on a fresh goroutine after the
// previous one gave up the idle wait (idleWait).
func (c *conn) resume() {
	if f := testBeforeResume.Load(); f != nil {
		(*f)(c)
	}
	c.loop(true)
}

// testBeforeResume, when set, runs before a fresh goroutine takes over an
// idle wait: tests use it to send bytes inside that window.
var testBeforeResume atomic.Pointer[func(*conn)]

// loop runs the request loop. resumed: this goroutine takes over an idle
// wait whose deadline is c.idleAt.
func (c *conn) loop(resumed bool) {
	moved := false
	defer func() {
		if moved {
			return // the connection lives on in another goroutine
		}
		if !c.handedOff {
			_ = c.nc.Close()
			c.r = c.w
			c.release()
		}
		c.srv.track(c, false)
	}()
	if resumed && c.fill() != nil {
		return
	}
	cfg := &c.srv.cfg
	// served: this goroutine's stack has grown serving a request, so an
	// idle wait is handed to a fresh goroutine (idleWait).
	served := false
	for {
		if c.closing.Load() {
			return
		}
		if c.r == c.w {
			c.release()
			if served {
				switch c.idleWait() {
				case idleData:
				case idleMove:
					moved = true
					go c.resume()
					return
				default:
					return
				}
			} else {
				c.armIdleTimeout(cfg.IdleTimeout)
				if err := c.fill(); err != nil {
					return // idle timeout, client close: nothing to answer
				}
			}
		}
		c.busy.Store(true)
		if !c.serveOne() {
			return
		}
		c.busy.Store(false)
		served = true
		if c.reqs < 2 {
			c.reqs++
		}
	}
}

// serveOne reads one request head and serves it; false ends the
// connection (closed, refused or handed off).
func (c *conn) serveOne() bool {
	start, fed := c.r, 0
	var hl int
	headTimer := false
	for {
		var hv headVerdict
		var v protocol.Verdict
		fed, hl, hv, v = scanHead(&c.s.sc, c.s.in[start:c.w], fed)
		switch hv {
		case headReject:
			c.srv.log.Info("refused request", "remote", c.peer.String(), "status", v.Status, "reason", v.Reason)
			c.refuse(v.Status)
			return false
		case headH2Preface:
			c.r = start
			return c.handoff()
		case headDone:
		default:
			// The head is not complete: bound the rest by HeaderTimeout
			// from now (a head that arrives in one read, the usual case,
			// needs no timer of its own).
			if !headTimer {
				headTimer = true
				c.setReadTimeout(c.srv.cfg.HeaderTimeout)
			}
			// fill may compact the buffer, moving the message (and c.r,
			// which is still its start) to the front.
			if err := c.fill(); err != nil {
				// A timeout or close mid-head: net/http answers a
				// header timeout with nothing useful either.
				return false
			}
			start = c.r
			continue
		}
		break
	}
	req := &c.s.req
	req.reset()
	status := parseHead(c.s.in[start:start+hl], req)
	req.finishHead()
	req.Peer, req.Scheme = c.peer, c.srv.scheme
	if status != 0 {
		c.srv.log.Info("refused request", "remote", c.peer.String(), "status", status, "reason", "invalid head")
		c.refuse(status)
		return false
	}
	// Forms the native path does not serve go to net/http, untouched.
	if req.form != formOrigin || req.upgrade || req.Method == "CONNECT" {
		c.r = start
		return c.handoff()
	}
	h, ok := c.srv.cfg.Dispatch(req)
	if !ok {
		c.r = start
		return c.handoff()
	}
	c.r = start + hl
	if req.badExpect && req.ProtoMinor >= 1 {
		// RFC 9110 §10.1.1: a server MAY answer an unknown expectation
		// with 417; net/http does.
		c.rw.begin(req)
		_ = c.rw.WriteResponse(417, "text/plain; charset=utf-8", []byte("417 Expectation Failed\n"))
		c.closeLingering()
		return false
	}
	c.s.body.begin(c, req)
	c.rw.begin(req)
	// No deadline is cleared here: every read of the client (body,
	// drain, the next idle wait) arms its own first.
	h.ServeEngine(&c.rw, req)
	return c.finish(req)
}

// finish decides whether the connection carries another request.
func (c *conn) finish(req *Request) bool {
	if !c.rw.wrote {
		// The handler wrote nothing: a bug; answer so the client is
		// not left waiting.
		c.rw.closeAfter = true
		_ = c.rw.WriteResponse(500, "text/plain; charset=utf-8", []byte("500 Internal Server Error\n"))
	}
	if c.rw.closeAfter || req.WantsClose() || c.closing.Load() {
		if !c.s.body.done || c.r < c.w {
			c.closeLingering()
		}
		return false
	}
	if !c.s.body.done && !c.s.body.drain() {
		c.closeLingering()
		return false
	}
	return true
}

// refuse answers a refused request like the guard does and closes.
func (c *conn) refuse(status int) {
	c.armWrite()
	_, _ = c.write([]byte(protocol.RefusalResponse(status)))
	c.closeLingering()
}

// closeLingering half-closes and drains briefly before the deferred close,
// so that the response is not destroyed by a RST.
func (c *conn) closeLingering() {
	if c.tcp == nil || c.tcp.CloseWrite() != nil {
		return
	}
	t := c.srv.now().Add(lingerTimeout)
	c.rdl.set(t)
	if c.nc.SetReadDeadline(t) == nil {
		_, _ = io.CopyN(io.Discard, c.nc, lingerBytes)
	}
}

// handoff passes the connection, with the bytes from c.r on, to the
// HandoffListener. The engine never touches it again.
func (c *conn) handoff() bool {
	if !c.wdl.t.IsZero() {
		// net/http manages its own deadlines on what it is handed.
		_ = c.nc.SetWriteDeadline(time.Time{})
		c.wdl.set(time.Time{})
	}
	hl := c.srv.cfg.Handoff
	if hl == nil {
		c.rw.begin(&c.s.req)
		c.rw.closeAfter = true
		_ = c.rw.WriteResponse(501, "text/plain; charset=utf-8", []byte("501 Not Implemented\n"))
		c.closeLingering()
		return false
	}
	pre := append([]byte(nil), c.s.in[c.r:c.w]...)
	c.r = c.w
	c.release()
	c.setReadDeadline(time.Time{})
	c.handedOff = hl.hand(c.nc, pre)
	return false
}

// shutdown asks the connection to end after its current exchange, and
// wakes it if it is waiting for a request.
func (c *conn) shutdown() {
	c.closing.Store(true)
	if !c.busy.Load() {
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// armWrite bounds the next write to the client by the server's
// WriteTimeout from now: each write gets the whole timeout, so a client
// that keeps reading is never cut, one that stops is cut after it. An
// armed deadline close enough is kept (armedDeadline), so most writes
// touch no timer.
func (c *conn) armWrite() {
	wt := c.srv.cfg.WriteTimeout
	if wt <= 0 {
		return
	}
	now := time.Now()
	if d := now.Add(wt); c.wdl.update(d, now) {
		_ = c.nc.SetWriteDeadline(d)
	}
}
