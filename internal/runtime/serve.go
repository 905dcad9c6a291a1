package runtime

import (
	"fmt"
	"net/http"
	"net/netip"
	"runtime/debug"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
)

// ServeHTTP is the top of a request's path in this Runtime: it records the
// request (ID, real client IP), normalises the path, routes, runs the
// route's chain and writes the access-log line.
func (rt *Runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.isChallenge(r.URL.Path) {
		// An ACME HTTP-01 challenge (acme.go): answered before routing,
		// request IDs and the access log; it is the CA's, not a client's.
		rt.challenge.ServeHTTP(w, r)
		return
	}
	info := &observe.RequestInfo{Start: rt.now(), Scheme: schemeOf(r)}
	peer := peerAddr(r.RemoteAddr)
	peerTrusted := rt.trusted.Contains(peer)
	info.ClientIP = protocol.ClientIP(peer, r.Header, rt.trusted)

	if rt.ridHeader != "" {
		// A request ID is kept only from a trusted peer (another proxy of
		// ours) and only when well-formed, so clients cannot inject log
		// lines or collide IDs on purpose.
		id := r.Header.Get(rt.ridHeader)
		if !peerTrusted || !protocol.ValidRequestID(id) {
			id = protocol.NewRequestID()
		}
		info.ID = id
		r.Header.Set(rt.ridHeader, id)
		w.Header().Set(rt.ridHeader, id)
	}

	// The path is normalised before routing, and the backend sees the
	// path that was routed (no "/public/../admin" sneaking past a prefix).
	protocol.CleanRequestPath(r.URL)
	if r.URL.RawPath != "" && protocol.CleanPath(r.URL.Path) != r.URL.Path {
		// Dot segments or empty segments hidden behind encoded slashes
		// ("/public/..%2F..%2Fadmin"): the router sees the decoded path,
		// a backend that decodes before resolving dots would serve another
		// one. No route can be matched safely; refuse (RFC 3986 §7.3).
		writeError(w, http.StatusBadRequest, info.ID)
		return
	}

	rec := newRecorder(w)
	defer rec.reads.close()
	if gap := rt.cfg.Server.WriteTimeout.D(); r.ProtoMajor == 1 {
		// HTTP/1.x: a deadline per write (server.write_timeout). A
		// deadline a previous request left on this keep-alive
		// connection must not cut this one: it is armed at the start,
		// at each write, and at the end of the handler (net/http
		// flushes the rest after it returns).
		rec.gap = gap
		rec.armWrite()
		defer rec.armWrite()
	} else if gap > 0 {
		// HTTP/2 and HTTP/3: a stream deadline is a timer that would
		// reset a quiet stream (a model thinking, a pause in SSE); a
		// watch cuts only a write that waits (see writeWatch).
		rec.watch.rc, rec.watch.gap = rec.rc, gap
		defer rec.watch.stop()
	}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = newCountingBody(r.Body, rec, rt.cfg.Server.ReadTimeout.D())
		r.Body = body
	}
	r = r.WithContext(observe.WithInfo(r.Context(), info))

	// Deferred so the line is written even when the proxy aborts a broken
	// response with panic(http.ErrAbortHandler).
	defer rt.logAccess(r, rec, body, info)
	defer rt.recoverPanic(rec, r, info)
	rt.route(rec, r, info)
}

// recoverPanic turns a panic in a route's chain (a bug) into a logged error
// with the request ID and stack, and a 500 if nothing was sent yet.
// net/http would log it only through the server's ErrorLog (debug level)
// without the request ID. http.ErrAbortHandler is the deliberate way to cut
// a response (the proxy uses it mid-stream) and passes through untouched,
// so net/http still closes the connection.
func (rt *Runtime) recoverPanic(rec *recorder, r *http.Request, info *observe.RequestInfo) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	rt.logger.Error("panic serving request", "request_id", info.ID, "route", info.Route,
		"method", r.Method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	if rec.status != 0 {
		// The response is under way: cut it so the client cannot take a
		// truncated body for a whole one.
		panic(http.ErrAbortHandler)
	}
	// Fields the chain set for the response it never sent (a length, an
	// encoding) must not describe our error body.
	h := rec.Header()
	for k := range h {
		if k != rt.ridHeader {
			delete(h, k)
		}
	}
	writeError(rec, http.StatusInternalServerError, info.ID)
}

// logAccess writes the request's access-log line.
func (rt *Runtime) logAccess(r *http.Request, rec *recorder, body *countingBody, info *observe.RequestInfo) {
	if rt.access == nil {
		return
	}
	e := observe.AccessEntry{
		Info:     info,
		Method:   r.Method,
		Host:     r.Host,
		Path:     r.URL.Path,
		Status:   rec.status,
		BytesOut: rec.bytes,
		Duration: rt.now().Sub(info.Start),
	}
	if rec.status == 0 {
		e.Status = http.StatusOK
		if r.Context().Err() != nil {
			// Nothing was written and the client went away (or the
			// response was aborted): say so rather than a fake 200.
			e.Status = protocol.StatusClientClosedRequest
		}
	}
	if body != nil {
		e.BytesIn = body.n
	}
	if t := rec.tunnel; t != nil {
		// An upgraded connection: what crossed the tunnel, each way.
		e.BytesIn += t.in.Load()
		e.BytesOut += t.out.Load()
	}
	rt.access.write(&e)
}

// route picks the route and runs its handler, or answers 404/405 itself.
func (rt *Runtime) route(w http.ResponseWriter, r *http.Request, info *observe.RequestInfo) {
	idx, ok := rt.router.Match(&route.Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header})
	if !ok {
		writeError(w, http.StatusNotFound, info.ID)
		return
	}
	cr := &rt.routes[idx]
	info.Route = cr.name
	// RFC 9110 §9.3.6/§9.3.8: CONNECT would make us an open tunnel and
	// TRACE reflects credentials (cross-site tracing); both are refused
	// unless the route names them.
	if (r.Method == http.MethodConnect && !cr.allowsConnect) || (r.Method == http.MethodTrace && !cr.allowsTrace) {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, info.ID)
		return
	}
	cr.handler.ServeHTTP(w, r)
}

// writeError answers with Gatehouse's own short error body, with the same
// fields as every Gatehouse error (protocol.SetErrorHeaders). Not
// middleware.WriteError: before routing, the request carries no
// RequestInfo yet.
func writeError(w http.ResponseWriter, status int, requestID string) {
	body := protocol.ErrorBody(status, requestID)
	protocol.SetErrorHeaders(w.Header(), body)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// peerAddr parses the connection's remote address; an unparsable one (a
// unix socket listener) yields the zero Addr, which is never trusted.
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
