package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// minRespRoom is the part of the exchange buffer kept free for the
// response head when a request body is packed after the outbound head.
const minRespRoom = 8 << 10

// maxRespHead bounds a backend's response head (as upstream's transport).
const maxRespHead = 1 << 20

// firstRespRead caps the first read of a response: enough for a usual
// head and a small body in one read, while the rest of a large
// Content-Length body stays in the socket to be spliced (bytes read into
// user space cost a copy in and a copy out; spliced ones cost neither).
const firstRespRead = 4 << 10

// errBrokenResponse: the backend's response could not be read to its end.
var errBrokenResponse = errors.New("upstream response broken mid-body")

// ServeEngine forwards r to a target of the pool and copies the response
// back (see doc.go for the steps and what is pooled).
func (h *ProxyHandler) ServeEngine(w *ResponseWriter, r *Request) {
	s := w.c.s
	x := &s.x
	x.reset()
	info := r.Info
	if info == nil {
		x.info.ID = r.ID
		x.info.ClientIP = r.Peer.Addr().Unmap()
		info = &x.info
	}
	// One clock reading serves the start, the first try and its
	// deadlines: the runtime's, taken just before, when there is one.
	if info.Start.IsZero() {
		x.start = h.now()
	} else {
		x.start = info.Start
	}
	x.clock = x.start
	info.Upstream = h.pool.Name()
	startNS := x.start.UnixNano()
	if err := h.pool.AcquireAt(startNS); err != nil {
		h.fail(w, r, info, err)
		return
	}
	defer h.pool.Release()
	x.pick = upstream.PickContext{ClientIP: info.ClientIP, Header: &r.Header, Path: r.Path, Now: startNS}
	t, err := h.pool.PickClaim(&x.pick) // counts the exchange on t (Begin)
	if err != nil {
		h.fail(w, r, info, err)
		return
	}
	info.Target = t.String()
	info.Pick = x.pick.Reason
	info.UpstreamStart = x.start
	// t changes when a try is retried on another target (below).
	defer func() { t.Done() }()

	out := s.out
	hb := h.appendRequestHead(out[:0], r, t)
	// Pack the body bytes already read after the head, so a small
	// request goes out in one write.
	bodyInHead := !r.HasBody()
	if r.HasBody() && h.wantsBodyBuffer(r, w) {
		// Read the whole (small) body first so that a failed try can be
		// sent again elsewhere (exchange_buffer.go), as on net/http.
		bp, b, err := h.bufferBody(&s.body, hb, r.ContentLength)
		if err != nil {
			h.clientBodyError(w, r, info, err)
			return
		}
		defer putBodyBuffer(bp)
		hb, bodyInHead = b, true
		x.clock = h.now() // the client's body may have taken long
	} else if r.HasBody() && w.c.r < w.c.w && len(out)-len(hb) > minRespRoom {
		p, err := s.body.raw(len(out) - len(hb) - minRespRoom)
		if err != nil {
			h.clientBodyError(w, r, info, err)
			return
		}
		hb = append(hb, p...)
		bodyInHead = s.body.done
	}
	// Idempotent requests whose whole body was in the first write can be
	// sent again on a fresh connection if a pooled one was stale
	// (RFC 9110 §9.2.2; net/http's transport retries in the same case),
	// and to another target under the route's retry policy.
	replayable := bodyInHead && protocol.IsIdempotent(r.Method)
	mayRepeat := bodyInHead && h.retries.MayRepeat(r.Method)

	uc := h.conns.getSendable(t, x.clock, replayable)
	var rb []byte
	var hl int
	firstTry := true
	staleReplayed := false // per target: a pooled connection found closed was replaced once
	for {
		tryStart := x.clock
		if !firstTry {
			tryStart = h.now()
			x.clock = tryStart
		}
		firstTry = false
		if uc == nil {
			uc, err = h.conns.dial(context.Background(), t, h.t.Connect)
			// A connect (or a wait for a free connection slot) can take
			// long: the try's deadlines start after it. tryStart stays
			// before it, so the latency reported includes the connect.
			x.clock = h.now()
		}
		if err == nil {
			info.Tries++
			uc.sc.ExpectResponseTo(r.Method == "HEAD", false)
			rb, hl, err = h.send(w, r, x, uc, hb, bodyInHead)
			if err != nil {
				h.conns.close(uc)
				if !staleReplayed && uc.reused && (replayable || errors.Is(err, errNothingSent)) && staleConnError(err) {
					// A pooled connection the backend had closed: not a
					// try against the target, not counted as one.
					staleReplayed = true
					info.Tries--
					uc = nil
					continue
				}
				uc = nil
			}
		} else {
			info.Tries++
		}
		if errors.Is(err, errClientBody) {
			h.clientBodyError(w, r, info, err)
			return
		}
		status := 0
		if err == nil {
			status = x.status
		}
		failed := upstream.IsFailure(err, status)
		x.clock = h.now()
		var lat time.Duration
		if !failed {
			lat = x.clock.Sub(tryStart)
		}
		h.pool.Report(t, upstream.Outcome{Failed: failed, Latency: lat, At: x.clock.UnixNano()})
		// A try that failed may go to another target: a connect failure
		// sent nothing (the body not yet sent is still in the client's
		// socket, the part packed in hb is kept); anything else needs a
		// request that can be repeated whole.
		retry := false
		switch {
		case info.Tries > h.retries.Attempts() || w.Started():
		case err != nil:
			retry = h.retries.RetryError(err, r.Method) &&
				(errors.Is(err, protocol.ErrUpstreamConnect) || mayRepeat)
		default:
			retry = mayRepeat && h.retries.RetryStatus(status, r.Method)
		}
		if retry && h.pool.AllowRetry() {
			x.pick.Tried.Add(t)
			x.pick.Now = x.clock.UnixNano()
			if next, perr := h.pool.PickClaim(&x.pick); perr == nil {
				if uc != nil { // a 5xx answer: drop its connection
					h.conns.close(uc)
					uc = nil
				}
				observe.LogRetry(h.log, context.Background(), info, r.Method, err, status, next.String())
				t.Done()
				if !h.preserveHost || r.Host == "" {
					hb = replaceHost(hb, t.HostHeader(), next.HostHeader())
				}
				t = next
				staleReplayed = false
				info.Target = t.String()
				info.Pick = x.pick.Reason
				uc = h.conns.get(t, x.clock)
				err = nil
				continue
			}
		}
		if err != nil {
			h.fail(w, r, info, err)
			return
		}
		break
	}
	info.FirstByte = x.clock.Sub(x.start)
	h.respond(w, r, x, info, uc, rb, hl)
}

// errNothingSent marks a first write that failed having written nothing,
// so no request byte can have been processed; errClientBody a failure reading the
// client's body.
var (
	errNothingSent = errors.New("request not sent")
	errClientBody  = errors.New("client body")
)

// staleConnError reports the classic "server closed an idle connection"
// failures: EOF before any response byte, a reset, a broken pipe.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// send writes the request (head, then the rest of the body) and reads the
// response head, forwarding 1xx responses. It returns the buffer holding
// the final head (and whatever followed it) and the head's length.
func (h *ProxyHandler) send(w *ResponseWriter, r *Request, x *exchange, uc *upConn, hb []byte, bodyInHead bool) ([]byte, int, error) {
	h.armWrite(uc, x, x.clock, h.t.Idle)
	if n, err := uc.write(hb); err != nil {
		if n == 0 {
			return nil, 0, fmt.Errorf("%w: %w", errNothingSent, err)
		}
		return nil, 0, err // part of it went out: the backend may act on it
	}
	var upErr error
	if !bodyInHead {
		upErr = h.upload(w, r, x, uc)
		if errors.Is(upErr, errClientBody) {
			return nil, 0, upErr
		}
		// A write error upstream: the backend may have answered early
		// (e.g. 413) and closed; read its answer if there is one.
	}
	now := x.clock
	if !bodyInHead {
		now = h.now() // the upload may have taken long
	}
	h.armRead(uc, x, now, h.headerWait())
	var rb []byte
	x.room = 0
	if out := w.c.s.out; len(hb)+minRespRoom <= len(out) {
		rb = out[len(hb):] // hb is out's prefix (it was not reallocated)
		x.room = len(hb)
	} else {
		rb = make([]byte, outSize)
	}
	n, fed := 0, 0
	for {
		if n == len(rb) {
			if len(rb) >= maxRespHead {
				return nil, 0, fmt.Errorf("upstream response head larger than %d bytes", maxRespHead)
			}
			bigger := make([]byte, 2*len(rb))
			copy(bigger, rb[:n])
			rb = bigger
			x.room = 0
		}
		end := len(rb)
		if n == 0 {
			end = min(end, firstRespRead)
		}
		m, err := uc.read(rb[n:end])
		n += m
		if m == 0 && err != nil {
			if upErr != nil {
				err = upErr
			}
			if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("%w: %w", protocol.ErrResponseHeaderTimeout, err)
			}
			return nil, 0, fmt.Errorf("reading response head: %w", err)
		}
		for fed < n {
			var hv headVerdict
			var v protocol.Verdict
			var hl int
			fed, hl, hv, v = scanHead(uc.sc, rb[:n], fed)
			switch hv {
			case headReject:
				return nil, 0, fmt.Errorf("malformed response head: %s", v.Reason)
			case headH2Preface:
				// A 101 or 2xx-to-CONNECT: never asked for, since such
				// requests are handed off.
				return nil, 0, errors.New("unexpected protocol switch from upstream")
			case headDone:
				x.headEnded = v.Action == protocol.MessageEnd
				if err := parseResponseHead(rb[:hl], x); err != nil {
					return nil, 0, err
				}
				if x.status >= 200 {
					if upErr != nil {
						w.closeAfter = true // the request body was not all sent
					}
					n = h.readSmallRest(x, uc, rb, n, hl, n == firstRespRead)
					return rb[:n], hl, nil
				}
				h.forwardInterim(w, r, x)
				n = copy(rb, rb[hl:n])
				fed = 0
				continue
			}
			break
		}
	}
}

// readSmallRest reads more of a Content-Length body that will not be
// spliced when the capped first read came back full, so that head and
// body still go to the client in one write (the first read was capped
// for the sake of large bodies only). It returns the new fill of rb.
// A read error is left for the body copy to meet again.
func (h *ProxyHandler) readSmallRest(x *exchange, uc *upConn, rb []byte, n, hl int, full bool) int {
	if !full || x.headEnded || x.respCL <= 0 || n >= len(rb) {
		return n
	}
	rest := x.respCL - int64(n-hl)
	if rest <= 0 || rest >= spliceMin {
		return n
	}
	m, _ := uc.read(rb[n:min(len(rb), n+int(rest))])
	return n + m
}

// upload streams the rest of the request body upstream: Content-Length
// bodies by splice when large, anything else through the buffer with
// chunked framing passed as received (every byte checked by the scanner).
func (h *ProxyHandler) upload(w *ResponseWriter, r *Request, x *exchange, uc *upConn) error {
	b := &w.c.s.body
	if uc.tcp != nil {
		arm := func() { h.armWrite(uc, x, h.now(), h.t.Idle) }
		if _, handled, err := b.spliceTo(&uc.io, uc.tcp, arm); handled {
			if err != nil && b.err != nil {
				return fmt.Errorf("%w: %w", errClientBody, err)
			}
			return err
		}
	}
	for {
		p, err := b.raw(len(w.c.s.in))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errClientBody, err)
		}
		h.armWrite(uc, x, h.now(), h.t.Idle)
		if _, err := uc.write(p); err != nil {
			return fmt.Errorf("sending request body: %w", err)
		}
	}
}

// fail answers an exchange that failed before a response head reached
// the client: 502/503/504 from protocol.StatusFor, with the short body and
// the request ID, never the error text.
func (h *ProxyHandler) fail(w *ResponseWriter, r *Request, info *observeInfo, err error) {
	status := protocol.StatusFor(err)
	info.Err = err
	h.logFailure(r, info, err, status)
	if w.Started() {
		w.SetClose()
		return
	}
	_ = w.WriteError(status, r.ID, h.idHeader)
}

// clientBodyError answers a request whose body could not be read: 400
// (malformed framing or a stalled client), or nothing if the client left.
func (h *ProxyHandler) clientBodyError(w *ResponseWriter, r *Request, info *observeInfo, err error) {
	w.SetClose()
	info.Err = err
	status := 400
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
		status = protocol.StatusClientClosedRequest
	}
	h.logFailure(r, info, err, status)
	if status != protocol.StatusClientClosedRequest && !w.Started() {
		_ = w.WriteError(status, r.ID, h.idHeader)
	}
}

// logFailure writes one record for operators (the client never sees err).
func (h *ProxyHandler) logFailure(r *Request, info *observeInfo, err error, status int) {
	level := slog.LevelWarn
	if status == protocol.StatusClientClosedRequest {
		level = slog.LevelInfo
	}
	msg := "upstream exchange failed"
	if status == 0 {
		msg = "upstream response aborted"
	}
	h.log.LogAttrs(context.Background(), level, msg,
		slog.String("request_id", r.ID),
		slog.String("route", info.Route),
		slog.String("upstream", info.Upstream),
		slog.String("target", info.Target),
		slog.String("method", r.Method),
		slog.Int("status", status),
		slog.String("error", err.Error()),
	)
}

// replaceHost returns hb with its Host field value old replaced by new
// (a retry to another target when the route sends the target's host). It
// allocates; retries are rare.
func replaceHost(hb []byte, old, new string) []byte {
	field := []byte("\r\nHost: " + old + "\r\n")
	i := bytes.Index(hb, field)
	if i < 0 || old == new {
		return hb
	}
	nb := make([]byte, 0, len(hb)+len(new)-len(old))
	nb = append(nb, hb[:i]...)
	nb = append(nb, "\r\nHost: "...)
	nb = append(nb, new...)
	nb = append(nb, "\r\n"...)
	return append(nb, hb[i+len(field):]...)
}

// headerWait bounds one try's wait for the response head: the route's
// response_header timeout, or the retry policy's per-try timeout when
// that is shorter (a try that exceeds it may be retried elsewhere).
func (h *ProxyHandler) headerWait() time.Duration {
	if d := h.retries.PerTryTimeout(); d > 0 && d < h.t.ResponseHeader {
		return d
	}
	return h.t.ResponseHeader
}
