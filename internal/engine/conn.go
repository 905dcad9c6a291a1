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
	idleFn func(fd uintptr) bool // idleCB
	// got: idleCB's last read brought bytes.
	got bool
	// grown: this goroutine has served a request, so its stack has grown
	// and an idle wait is handed to a fresh goroutine (idleWait).
	grown bool
	// graced: the deadline of the current idle wait is the grace's
	// (armGrace), not the idle timeout's.
	graced bool

	// fed counts the bytes of the head at s.in[r:] already fed to the
	// scanner (a head that arrives in several reads).
	fed int
	// pend is what serving the request at s.in[r:] still takes, when
	// idleCB routed it but left it to the loop (next); h and status are
	// the routed handler and refusal status.
	pend   action
	h      Handler
	status int

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
		c.idleFn = c.idleCB
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
	c.grown = false
	for {
		// A request idleCB routed is carried out even so: its handler
		// must run (Config.Dispatch).
		if c.closing.Load() && c.pend == actNone {
			return
		}
		if c.r == c.w && c.pend == actNone {
			c.release()
			switch c.idleWait(resumed) {
			case idleData:
			case idleMove:
				moved = true
				go c.resume()
				return
			default:
				return
			}
			resumed = false
			if c.pend == actNone && (c.r == c.w || c.closing.Load()) {
				// The wait served everything and stopped for a Shutdown,
				// or bytes came after a Close or Shutdown: not served.
				continue
			}
		}
		c.busy.Store(true)
		if !c.next() {
			return
		}
		c.busy.Store(false)
		c.served()
	}
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

// abort ends the connection from another goroutine (Server.Close) without
// waiting for it: both directions are shut at once (a wait wakes, a write
// fails), and the descriptor is closed in a goroutine of its own, because
// closing one waits until no call holds it, and a connection serving
// requests inside its read callback (idleCB) holds it until the exchange
// ends.
func (c *conn) abort() {
	// Set first: a request read from what the client had already sent
	// (shutting the read side discards nothing) is not served.
	c.closing.Store(true)
	if c.tcp != nil {
		_ = c.tcp.CloseRead()
		_ = c.tcp.CloseWrite()
	}
	go c.nc.Close()
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
