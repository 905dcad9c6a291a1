package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// ErrBadProxyOptions is returned (wrapped) by NewProxyHandler.
var ErrBadProxyOptions = errors.New("engine: invalid proxy options")

// Timeouts bound one upstream exchange, as internal/proxy's Timeouts do.
// Zero Connect and ResponseHeader take the config defaults; zero Idle and
// Total disable the bound; none may be negative.
type Timeouts struct {
	// Connect bounds dialing a new connection to the target.
	Connect time.Duration
	// ResponseHeader bounds the wait for the response head once the
	// request is sent. Expiry → 504.
	ResponseHeader time.Duration
	// Idle bounds each wait for bytes from the target while sending the
	// request and copying the response body. Before the response head
	// → 504; after it, the client connection is closed.
	Idle time.Duration
	// Total bounds the whole exchange; 0 means none.
	Total time.Duration
}

// ProxyOptions configure one native forwarding handler (one route).
type ProxyOptions struct {
	// Pool is the upstream; Pick chooses the target. Required.
	Pool *upstream.Pool
	// Conns holds the pooled connections to Pool's targets; share one
	// per Pool between routes and across reloads. Required.
	Conns *ConnPool
	// PreserveHost sends the client's Host; false sends the target's
	// HostHeader.
	PreserveHost bool
	Timeouts     Timeouts
	// Trusted are the peers whose forwarding fields are kept and
	// extended (protocol.SetForwarded); nil trusts no one.
	Trusted *protocol.TrustedSet
	// RequestIDHeader names the request ID field, sent upstream and on
	// every response (errors included); "" disables it.
	RequestIDHeader string
	// Logger receives one record per failed exchange. nil discards.
	Logger *slog.Logger
	// Now is the clock for deadlines; nil means time.Now.
	Now func() time.Time
	// Retries decides which failed tries go to another target; the zero
	// value never retries.
	Retries upstream.RetryPolicy
}

// ProxyHandler forwards requests natively (see doc.go). Immutable after
// NewProxyHandler and safe for concurrent use.
type ProxyHandler struct {
	pool         *upstream.Pool
	conns        *ConnPool
	preserveHost bool
	t            Timeouts
	trusted      *protocol.TrustedSet
	idHeader     string
	log          *slog.Logger
	now          func() time.Time
	retries      upstream.RetryPolicy
}

// NewProxyHandler validates opts and returns the handler.
func NewProxyHandler(opts ProxyOptions) (*ProxyHandler, error) {
	if opts.Pool == nil || opts.Conns == nil {
		return nil, fmt.Errorf("%w: Pool and Conns are required", ErrBadProxyOptions)
	}
	t := opts.Timeouts
	if t.Connect < 0 || t.ResponseHeader < 0 || t.Idle < 0 || t.Total < 0 {
		return nil, fmt.Errorf("%w: negative timeout", ErrBadProxyOptions)
	}
	if t.Connect == 0 {
		t.Connect = time.Duration(config.DefaultConnectTimeout)
	}
	if t.ResponseHeader == 0 {
		t.ResponseHeader = time.Duration(config.DefaultResponseHeaderTimeout)
	}
	h := &ProxyHandler{
		pool: opts.Pool, conns: opts.Conns, preserveHost: opts.PreserveHost, t: t,
		trusted: opts.Trusted, log: opts.Logger, now: opts.Now, retries: opts.Retries,
	}
	if opts.RequestIDHeader != "" {
		if !protocol.IsToken(opts.RequestIDHeader) {
			return nil, fmt.Errorf("%w: request ID header %q is not a field name", ErrBadProxyOptions, opts.RequestIDHeader)
		}
		h.idHeader = textproto.CanonicalMIMEHeaderKey(opts.RequestIDHeader)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// observeInfo is the per-request record the runtime shares.
type observeInfo = observe.RequestInfo

// exchange is the per-request state of the native proxy, kept in the
// connection's session so a request allocates nothing for it.
type exchange struct {
	pick  upstream.PickContext
	info  observe.RequestInfo
	resp  Header
	start time.Time
	// clock is the exchange's latest clock reading, reused where a few
	// microseconds of staleness do not matter (deadlines with slack,
	// the first try's start), because each reading costs ~30 ns here.
	clock time.Time
	// response facts
	status    int
	reason    []byte
	respCL    int64 // -1: none
	chunked   bool
	respClose bool
	respMinor byte
	// headEnded: the response ended with its head (no body by its
	// framing, e.g. Content-Length: 0 or a 204).
	headEnded bool
	// room is how many bytes of the exchange buffer precede the
	// response read buffer (0 when that buffer is not the exchange
	// buffer); respond writes the client's head there.
	room int
}

func (x *exchange) reset() {
	x.resp.reset()
	x.pick = upstream.PickContext{}
	x.info = observe.RequestInfo{}
	x.reason = nil
}

// deadlineAt is now+gap, bounded by the total deadline; zero gap and no
// total mean none.
func (h *ProxyHandler) deadlineAt(x *exchange, now time.Time, gap time.Duration) time.Time {
	var d time.Time
	if gap > 0 {
		d = now.Add(gap)
	}
	if h.t.Total > 0 {
		if tot := x.start.Add(h.t.Total); d.IsZero() || tot.Before(d) {
			d = tot
		}
	}
	return d
}
