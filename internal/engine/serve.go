package engine

import "github.com/gatehouse-proxy/gatehouse/internal/protocol"

// action is what serving a routed request takes (route decides it, do
// carries it out). The split lets idleCB route a request inside the read
// callback, where the client cannot be read again, and leave whatever
// needs such a read to the loop.
type action uint8

const (
	actNone    action = iota // nothing routed
	actMore                  // the head is incomplete: read more (serveOne)
	actServe                 // c.h serves c.s.req
	actRefuse                // refuse with c.status and close
	actHandoff               // hand the connection, from s.in[r:], to net/http
	act417                   // answer 417 Expectation Failed and close
	actFinish                // c.s.req was served; finish decides what follows
)

// next carries out what idleCB left pending, or reads and serves the next
// request; false ends the connection (closed, refused or handed off).
func (c *conn) next() bool {
	act := c.pend
	c.pend = actNone
	switch act {
	case actNone, actMore:
		return c.serveOne()
	case actFinish:
		return c.finish(&c.s.req)
	}
	return c.do(act)
}

// serveOne reads one request head (continuing a partial one) and serves it.
func (c *conn) serveOne() bool {
	headTimer := false
	for {
		act := c.route()
		if act != actMore {
			return c.do(act)
		}
		// The head is not complete: bound the rest by HeaderTimeout from
		// now (a head that arrives in one read, the usual case, needs no
		// timer of its own).
		if !headTimer {
			headTimer = true
			c.setReadTimeout(c.srv.cfg.HeaderTimeout)
		}
		// fill may compact the buffer, moving the head (and c.r, its
		// start) to the front; c.fed stays valid.
		if err := c.fill(); err != nil {
			// A timeout or close mid-head: net/http answers a header
			// timeout with nothing useful either.
			return false
		}
	}
}

// route scans the buffered bytes at s.in[r:] for a request head and, once
// it is complete, parses and dispatches it. It never reads from the
// client, so idleCB can call it inside the read callback. For actServe
// and act417 it consumes the head (c.r moves past it); a handoff keeps it.
// A handler Dispatch returns is always run (actServe).
func (c *conn) route() action {
	fed, hl, hv, v := scanHead(&c.s.sc, c.s.in[c.r:c.w], c.fed)
	c.fed = fed
	switch hv {
	case headReject:
		c.srv.log.Info("refused request", "remote", c.peer.String(), "status", v.Status, "reason", v.Reason)
		c.status = v.Status
		return actRefuse
	case headH2Preface:
		return actHandoff
	case headMore:
		return actMore
	}
	c.fed = 0
	req := &c.s.req
	req.reset()
	status := parseHead(c.s.in[c.r:c.r+hl], req)
	req.finishHead()
	req.Peer, req.Scheme = c.peer, c.srv.scheme
	if status != 0 {
		c.srv.log.Info("refused request", "remote", c.peer.String(), "status", status, "reason", "invalid head")
		c.status = status
		return actRefuse
	}
	// Forms the native path does not serve go to net/http, untouched.
	if req.form != formOrigin || req.upgrade || req.Method == "CONNECT" {
		return actHandoff
	}
	if req.badExpect && req.ProtoMinor >= 1 {
		// RFC 9110 §10.1.1: a server MAY answer an unknown expectation
		// with 417; net/http does. Before Dispatch: the handler it
		// returns must run (it may hold resources until it does, such
		// as the runtime it was dispatched on).
		c.r += hl
		return act417
	}
	h, ok := c.srv.cfg.Dispatch(req)
	if !ok {
		return actHandoff
	}
	c.r += hl
	c.h = h
	return actServe
}

// do carries out a routed request's action; false ends the connection.
func (c *conn) do(act action) bool {
	switch act {
	case actRefuse:
		c.refuse(c.status)
		return false
	case actHandoff:
		return c.handoff()
	case act417:
		c.rw.begin(&c.s.req)
		_ = c.rw.WriteResponse(417, "text/plain; charset=utf-8", []byte("417 Expectation Failed\n"))
		c.closeLingering()
		return false
	}
	c.serveRouted()
	return c.finish(&c.s.req)
}

// serveRouted runs the routed handler on the routed request.
func (c *conn) serveRouted() {
	req, h := &c.s.req, c.h
	c.h = nil // a conn outlives reloads; it must not pin an old runtime
	c.s.body.begin(c, req)
	c.rw.begin(req)
	// No deadline is cleared here: every read of the client (body,
	// drain, the next idle wait) arms its own first.
	h.ServeEngine(&c.rw, req)
}

// served counts a request served on this goroutine.
func (c *conn) served() {
	c.grown = true
	if c.reqs < 2 {
		c.reqs++
	}
}

// keepsAlive reports whether the connection carries another request after
// req, with nothing to read first: finish would return true without I/O.
func (c *conn) keepsAlive(req *Request) bool {
	return c.rw.wrote && !c.rw.closeAfter && !req.WantsClose() && !c.closing.Load() && c.s.body.done
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
