package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// RetryPolicy decides whether a failed try of a request is sent again to
// another target. Both proxies (net/http and the own engine) ask the same
// questions, so the rules live here once. A zero RetryPolicy never
// retries. Immutable; copy freely.
//
// The rules (RFC 9110 §9.2.2: only idempotent requests may be repeated
// automatically, because the first try may have been processed):
//   - a connect failure is retried for any method, since no byte reached a
//     backend;
//   - a reset, an early EOF or a timeout before the response head, and a
//     502/503/504 answer, are retried only for idempotent methods (GET,
//     HEAD, OPTIONS, TRACE, PUT, DELETE), or for any method when the route
//     opted in with non_idempotent;
//   - the caller retries only while nothing of the response was sent to
//     the client, only when it can send the body again (no body, or one
//     fully buffered), and only when Pool.AllowRetry (the budget) agrees.
type RetryPolicy struct {
	attempts      int
	on            retryOn
	perTry        time.Duration
	nonIdempotent bool
	maxBody       int64
}

type retryOn uint8

const (
	onConnect retryOn = 1 << iota
	onReset
	onTimeout
	on502
	on503
	on504
)

// NewRetryPolicy compiles c (defaults already applied by config loading;
// nil Attempts means config.DefaultRetryAttempts). Unknown conditions were
// refused by validation and are ignored here.
func NewRetryPolicy(c config.Retries) RetryPolicy {
	rp := RetryPolicy{attempts: config.DefaultRetryAttempts, perTry: c.PerTryTimeout.D(),
		nonIdempotent: c.NonIdempotent, maxBody: int64(c.MaxBufferedBody)}
	if c.Attempts != nil {
		rp.attempts = *c.Attempts
	}
	on := c.On
	if len(on) == 0 {
		on = config.DefaultRetryOn()
	}
	for _, s := range on {
		switch s {
		case config.RetryConnectFailure:
			rp.on |= onConnect
		case config.RetryReset:
			rp.on |= onReset
		case config.RetryTimeout:
			rp.on |= onTimeout
		case config.Retry502:
			rp.on |= on502
		case config.Retry503:
			rp.on |= on503
		case config.Retry504:
			rp.on |= on504
		}
	}
	if rp.maxBody == 0 {
		rp.maxBody = int64(config.DefaultRetryMaxBufferedBody)
	}
	return rp
}

// Attempts is the number of retries after the first try.
func (rp RetryPolicy) Attempts() int { return rp.attempts }

// PerTryTimeout bounds one try's wait for the response head (0: none
// beyond the route's response_header timeout).
func (rp RetryPolicy) PerTryTimeout() time.Duration { return rp.perTry }

// MaxBufferedBody is the largest request body the proxy buffers so the
// request can be sent again.
func (rp RetryPolicy) MaxBufferedBody() int64 { return rp.maxBody }

// MayRepeat reports whether a request with method may be sent again after
// a backend may have seen it.
func (rp RetryPolicy) MayRepeat(method string) bool {
	return rp.nonIdempotent || protocol.IsIdempotent(method)
}

// RetryError reports whether a try that failed with err before any
// response head may be retried: connect failures always (if enabled),
// resets and timeouts for repeatable methods.
func (rp RetryPolicy) RetryError(err error, method string) bool {
	if rp.attempts == 0 || err == nil {
		return false
	}
	switch {
	case errors.Is(err, protocol.ErrUpstreamConnect):
		return rp.on&onConnect != 0
	case IsTimeout(err):
		return rp.on&onTimeout != 0 && rp.MayRepeat(method)
	case IsReset(err):
		return rp.on&onReset != 0 && rp.MayRepeat(method)
	}
	return false
}

// RetryStatus reports whether a response with status may be discarded and
// the request retried.
func (rp RetryPolicy) RetryStatus(status int, method string) bool {
	if rp.attempts == 0 || !rp.MayRepeat(method) {
		return false
	}
	switch status {
	case 502:
		return rp.on&on502 != 0
	case 503:
		return rp.on&on503 != 0
	case 504:
		return rp.on&on504 != 0
	}
	return false
}

// IsTimeout reports a try that timed out waiting for the backend.
func IsTimeout(err error) bool {
	if errors.Is(err, protocol.ErrResponseHeaderTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsReset reports the failures of a connection the backend dropped: a
// reset, a broken pipe, or EOF before a complete response head.
func IsReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// IsFailure reports whether a try's outcome counts against the target's
// health (passive health): an error that is not the client's doing, or a
// 502/503/504 answer. A request the client cancelled says nothing about
// the target.
func IsFailure(err error, status int) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return status == 502 || status == 503 || status == 504
}
