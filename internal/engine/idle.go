package engine

import (
	"errors"
	"os"
	"time"
)

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

// idleWait waits for the next request; resumed: this goroutine takes
// over a wait whose deadline (c.idleAt) is armed, from one whose grace ran
// out. A goroutine that has served a request waits at most the grace
// (armGrace) before it moves the wait to a fresh goroutine; a new
// connection's first wait is bounded by the idle timeout alone. The wait
// itself serves what it can (idleCB), so requests may have been served
// when it returns.
func (c *conn) idleWait(resumed bool) int {
	c.graced = false
	switch {
	case resumed:
	case c.grown:
		c.armGrace()
	default:
		c.armIdleTimeout(c.srv.cfg.IdleTimeout)
	}
	err := c.fillIdle()
	if err == nil {
		return idleData
	}
	if !c.graced || !errors.Is(err, os.ErrDeadlineExceeded) || c.closing.Load() {
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

// armGrace arms the wait for the next request on a goroutine that has
// served one: at most the grace (idleGrace, or idleGraceFirst; the idle
// timeout if that is sooner), and records the idle timeout's end in
// c.idleAt for the goroutine that takes the wait over. The deadline armed
// is kept while it lies between a quarter of the grace and the grace
// ahead, so a busy connection arms a timer about once per 150 ms, not
// once per request.
func (c *conn) armGrace() {
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
	c.graced = true
}

// fillIdle is fill for the wait between requests, which serves inline
// (idleCB) where the connection has a descriptor. nil: bytes arrived, or
// idleCB served requests and left the loop something to do (c.pend) or a
// Shutdown to notice.
func (c *conn) fillIdle() error {
	if c.io.rc == nil {
		return c.fill()
	}
	c.n, c.err, c.fresh, c.got = 0, nil, false, false
	if err := c.io.rc.Read(c.idleFn); err != nil {
		return err
	}
	if c.err != nil {
		return c.err
	}
	if !c.got {
		return errClosedByPeer
	}
	return nil
}

// idleCB is the read callback of the wait between requests. It reads, and
// serves every complete bodyless request it finds right here, inside the
// callback; then it asks the poller to wait (false) for the next one.
//
// Why inside: each syscall.RawConn.Read clears the poller's readiness mark
// before calling back, so a wait that starts with a new Read must first
// try a read, which fails with EAGAIN after almost every response (the
// client has not sent its next request yet). Within one Read the mark
// survives: a request that arrives while the previous one is being served
// sets it, and the poller calls back at once; none arriving parks the
// goroutine. That saves a system call per keep-alive request (nginx does
// not make it either: its edge-triggered loop knows the socket is empty
// after a short read).
//
// Nothing here may read the client (its read lock is held): a request
// with a body, an incomplete head, a refusal or a handoff, and a finish
// that may linger, leave the callback (true) with c.pend set for the loop.
func (c *conn) idleCB(fd uintptr) bool {
	for {
		c.got = false
		if !c.rawFill(fd) {
			return false
		}
		if c.err != nil || c.n == 0 {
			return true
		}
		// A read that filled the buffer may have left bytes in the
		// socket that no new readiness edge will announce.
		full := c.w+c.n == len(c.s.in)
		c.w += c.n
		c.n, c.got = 0, true
		if c.closing.Load() {
			return true // Close or Shutdown: nothing more is served
		}
		for c.r < c.w {
			act := c.route()
			if act != actServe || c.s.req.HasBody() {
				c.pend = act
				return true
			}
			c.busy.Store(true)
			c.serveRouted()
			c.served()
			if !c.keepsAlive(&c.s.req) {
				c.pend = actFinish
				return true
			}
			c.busy.Store(false)
		}
		c.release()
		c.armGrace()
		// Checked after busy is cleared and the grace armed (Shutdown
		// sets closing, then looks at busy and arms a past deadline): a
		// Shutdown is seen here, or its deadline, armed after ours, wakes
		// the wait.
		if c.closing.Load() {
			return true
		}
		// A short read drained the socket: the next bytes bring an edge.
		// (A FIN that came with the request's bytes brought its edge
		// before this read, so a client gone after its request is seen
		// when the grace ends: the connection lingers that long, 20 or
		// 200 ms, nothing more.)
		if !full {
			return false
		}
	}
}
