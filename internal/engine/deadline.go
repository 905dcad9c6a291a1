package engine

import "time"

// deadlineSlackDiv sets how much earlier than asked an already armed
// deadline may be and still be kept: 1/64 of the timeout (about 1.9 s of
// the default 120 s idle timeout). Arming a deadline is a timer update in
// the runtime (a lock and a heap fix-up); on a keep-alive connection the
// same timeout is asked for again every request, a few milliseconds
// later, so keeping the armed one saves that work on almost every request.
// The kept deadline is never later than the one asked for.
const deadlineSlackDiv = 64

// armedDeadline remembers the deadline armed on one direction of a socket.
// Only the goroutine that owns the socket's I/O uses it.
type armedDeadline struct{ t time.Time }

// update reports whether d (the deadline wanted at time now; zero: none)
// must be armed, and records it when so. An armed deadline is kept when d
// is later than it by less than 1/deadlineSlackDiv of d-now.
func (a *armedDeadline) update(d, now time.Time) bool {
	if d.IsZero() {
		if a.t.IsZero() {
			return false
		}
		a.t = time.Time{}
		return true
	}
	if !a.t.IsZero() && !d.Before(a.t) && d.Sub(a.t) < d.Sub(now)/deadlineSlackDiv {
		return false
	}
	a.t = d
	return true
}

// set records d as armed (the caller arms it unconditionally).
func (a *armedDeadline) set(d time.Time) { a.t = d }

// armRead arms uc's read deadline gap from now (bounded by the total
// timeout; see deadline), keeping an armed one that is close enough. now
// is a recent clock reading (x.clock, or h.now() in loops).
func (h *ProxyHandler) armRead(uc *upConn, x *exchange, now time.Time, gap time.Duration) {
	if d := h.deadlineAt(x, now, gap); uc.rdl.update(d, now) {
		_ = uc.nc.SetReadDeadline(d)
	}
}

// armWrite is armRead for writes.
func (h *ProxyHandler) armWrite(uc *upConn, x *exchange, now time.Time, gap time.Duration) {
	if d := h.deadlineAt(x, now, gap); uc.wdl.update(d, now) {
		_ = uc.nc.SetWriteDeadline(d)
	}
}
