package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// errAborted records a response cut off mid-body for a reason we cannot see
// (ReverseProxy only panics): the backend died or the client write failed.
var errAborted = errors.New("response aborted mid-body (backend or client connection failed)")

// serveErr is ReverseProxy's ErrorHandler: the exchange failed before a
// response head was forwarded (or for a bad upgrade).
func (h *handler) serveErr(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	if x == nil { // cannot happen: every request passes ServeHTTP
		h.writeError(w, http.StatusBadGateway, "")
		return
	}
	if fired := x.firedErr(); fired != nil && !errors.Is(err, fired) {
		// Our timer cancelled the exchange; the transport may report that
		// as a generic cancellation. The cause decides the status.
		err = fmt.Errorf("%w: %w", fired, err)
	}
	h.fail(w, r, x, err)
}

// fail records err, logs it and answers with its status (nothing for 499).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, x *exchange, err error) {
	status := h.statusFor(x, err)
	x.info.Err = err
	h.logFailure(r, x, err, status)
	if status == protocol.StatusClientClosedRequest {
		// The client is gone; nothing to write to. Returning would let
		// net/http finish with an empty "200 OK" should the connection
		// still be there (a cancelled context is not always a closed
		// socket): abort instead, so the connection is closed.
		panic(http.ErrAbortHandler)
	}
	h.writeError(w, status, x.info.ID)
}

// statusFor maps err, preferring our own timeout over whatever the transport
// made of the cancellation, and a departed client over both, unless the
// timeout cut the client's upload (exchange.fire): net/http then cancels
// the request's context itself, and the client is still there to be told.
func (h *handler) statusFor(x *exchange, err error) int {
	cut, fired := x.firedState()
	if x.parent != nil && x.parent.Err() != nil && !cut {
		return protocol.StatusClientClosedRequest
	}
	if fired != nil {
		return protocol.StatusFor(fired)
	}
	return protocol.StatusFor(err)
}

// clientBodyError answers a request whose body could not be read before
// anything was sent upstream: 413 when a size limit (http.MaxBytesReader)
// stopped it, 400 for malformed framing (RFC 9112 §7.1).
func (h *handler) clientBodyError(w http.ResponseWriter, r *http.Request, x *exchange, err error) {
	status := http.StatusBadRequest
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok || errors.Is(err, protocol.ErrBodyTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	if r.Context().Err() != nil {
		status = protocol.StatusClientClosedRequest
	}
	err = fmt.Errorf("reading request body: %w", err)
	x.info.Err = err
	h.logFailure(r, x, err, status)
	if status != protocol.StatusClientClosedRequest {
		h.writeError(w, status, x.info.ID)
	}
}

// writeError writes Gatehouse's own error response: status, the short body
// from protocol.ErrorBody (no error text, no address), never cached.
func (h *handler) writeError(w http.ResponseWriter, status int, id string) {
	hd := w.Header()
	if h.idHeader != "" && id != "" {
		hd.Set(h.idHeader, id)
	}
	body := protocol.ErrorBody(status, id)
	protocol.SetErrorHeaders(hd, body)
	w.WriteHeader(status)
	_, _ = w.Write(body) // a write error means the client left; nothing to do
}

// logFailure writes one record for a failed exchange, for operators: it
// carries the Go error and the target, which the client never sees.
// status 0 means the response was already under way and was cut off.
func (h *handler) logFailure(r *http.Request, x *exchange, err error, status int) {
	level := slog.LevelWarn
	if status == protocol.StatusClientClosedRequest || errors.Is(err, context.Canceled) {
		level = slog.LevelInfo
	}
	msg := "upstream exchange failed"
	if status == 0 {
		msg = "upstream response aborted"
	}
	h.log.LogAttrs(r.Context(), level, msg,
		slog.String("request_id", x.info.ID),
		slog.String("route", x.info.Route),
		slog.String("upstream", x.info.Upstream),
		slog.String("target", x.info.Target),
		slog.String("method", r.Method),
		slog.Int("status", status),
		slog.String("error", err.Error()),
	)
}
