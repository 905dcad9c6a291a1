package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// ErrBadOptions is returned (wrapped) by New for invalid Options.
var ErrBadOptions = errors.New("invalid proxy options")

// Timeouts bound one upstream exchange. Zero disables a bound (Connect
// zero falls back to the pool's dial default); none may be negative.
type Timeouts struct {
	// Connect bounds dialing a new connection to the target.
	Connect time.Duration
	// ResponseHeader bounds the wait from the request having been sent
	// (its body read to the end) to the response head. Expiry → 504.
	ResponseHeader time.Duration
	// Idle bounds the gap while a read of the request body (from the
	// client) or of the response body (from the target) waits for data.
	// Expiry before the response head → 504; after it, the response is
	// cut off visibly (the client connection is closed).
	Idle time.Duration
	// Total bounds the whole exchange; 0 means none, so streams that make
	// progress are never cut.
	Total time.Duration
}

// Options configure one forwarding handler (one route).
type Options struct {
	// Pool is the upstream to forward to. Required.
	Pool *upstream.Pool
	// PreserveHost sends the client's Host upstream; false sends the
	// target's host:port ("localhost" for a unix socket).
	PreserveHost bool
	Timeouts     Timeouts
	// Trusted are the peers whose forwarding fields are kept and extended;
	// nil trusts no one.
	Trusted *protocol.TrustedSet
	// RequestIDHeader names the request ID field, sent upstream and on
	// every response to the client (errors included); "" disables it.
	RequestIDHeader string
	// Logger receives one record per failed exchange (with request ID,
	// route, target and the Go error). nil discards.
	Logger *slog.Logger
	// Retries decides which failed tries are sent to another target; the
	// zero value never retries.
	Retries upstream.RetryPolicy
	// Direct, when set, sends the requests it accepts (no body or a
	// small one, no upgrade) instead of the pool's http.Transport: the own engine's
	// HTTP/1.1 client, on the caller's goroutine (internal/engine,
	// roundtrip.go). nil sends everything through the Transport.
	Direct Direct
}

// Direct is an HTTP/1.1 client that sends some requests to a given target
// (engine.ConnPool). Its errors follow the Transport's conventions:
// connect failures wrap protocol.ErrUpstreamConnect, a cancelled request
// fails with its context's cause.
type Direct interface {
	// Accepts reports whether RoundTrip can send req.
	Accepts(req *http.Request) bool
	RoundTrip(req *http.Request, t *upstream.Target) (*http.Response, error)
}

// handler is the forwarding http.Handler. Immutable after New.
type handler struct {
	pool         *upstream.Pool
	preserveHost bool
	timeouts     Timeouts
	trusted      *protocol.TrustedSet
	idHeader     string // canonical; "" = disabled
	log          *slog.Logger
	retries      upstream.RetryPolicy
	direct       Direct // nil: Transport only
	rp           *httputil.ReverseProxy
}

// New returns the forwarding handler for opts. The handler is safe for
// concurrent use. It expects the runtime to have put an
// *observe.RequestInfo into the request context (one is made up if not) and
// fills its Upstream, Target, UpstreamStart, FirstByte and Err. A response
// cut off mid-body ends the handler with panic(http.ErrAbortHandler), which
// net/http turns into a closed connection (see serveErr).
func New(opts Options) (http.Handler, error) {
	if opts.Pool == nil {
		return nil, fmt.Errorf("%w: no pool", ErrBadOptions)
	}
	t := opts.Timeouts
	if t.Connect < 0 || t.ResponseHeader < 0 || t.Idle < 0 || t.Total < 0 {
		return nil, fmt.Errorf("%w: negative timeout", ErrBadOptions)
	}
	h := &handler{
		pool:         opts.Pool,
		preserveHost: opts.PreserveHost,
		timeouts:     t,
		trusted:      opts.Trusted,
		log:          opts.Logger,
		retries:      opts.Retries,
		direct:       opts.Direct,
	}
	if opts.RequestIDHeader != "" {
		if !validFieldName(opts.RequestIDHeader) {
			return nil, fmt.Errorf("%w: request ID header %q is not a field name", ErrBadOptions, opts.RequestIDHeader)
		}
		h.idHeader = textproto.CanonicalMIMEHeaderKey(opts.RequestIDHeader)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      tryTransport{h: h},
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.serveErr,
		BufferPool:     newBufferPool(),
		// ReverseProxy logs body-copy errors itself; we log the exchange
		// once, with the request ID, in finish. Keep its line for debug.
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		// FlushInterval 0: a response with a known length is copied
		// through the 32 KiB buffer and flushed at the end, while
		// ReverseProxy itself flushes after every write for
		// text/event-stream (any parameters) and for responses without a
		// Content-Length (flushInterval in reverseproxy.go, Go 1.26), so
		// streams reach the client as they arrive. TestSSEFlushed checks.
		FlushInterval: 0,
	}
	return h, nil
}

// validFieldName reports whether s is an RFC 9110 §5.1 field name (a token).
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == '"' || c == '(' || c == ')' || c == ',' ||
			c == '/' || c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' ||
			c == '[' || c == '\\' || c == ']' || c == '{' || c == '}' {
			return false
		}
	}
	return s != ""
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// ServeHTTP forwards r to a target of the pool.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := observe.InfoFrom(r.Context())
	if info == nil {
		info = &observe.RequestInfo{Start: time.Now()}
	}
	x := &exchange{h: h, info: info, w: w, timeouts: h.timeouts, parent: r.Context()}
	if h.idHeader != "" && info.ID != "" {
		// Set before anything can fail, so error responses carry it too.
		w.Header().Set(h.idHeader, info.ID)
	}
	// Only HTTP/1.1 has chunked framing to check. An HTTP/2 or HTTP/3
	// body is framed by DATA frames (RFC 9113 §6.1), and waiting for its
	// first byte would deadlock a stream whose server speaks first (gRPC
	// bidirectional streaming).
	if r.ProtoMajor < 2 {
		if err := peekBody(r); err != nil {
			h.clientBodyError(w, r, x, err)
			return
		}
	}

	if err := h.bufferBody(r, x); err != nil {
		h.clientBodyError(w, r, x, err)
		return
	}

	info.Upstream = h.pool.Name()
	if err := h.pool.Acquire(); err != nil {
		h.fail(w, r, x, err)
		return
	}
	defer h.pool.Release()
	x.pick = upstream.PickContext{ClientIP: info.ClientIP, Header: r.Header, Path: r.URL.Path, Request: r}
	target, err := h.pool.PickClaim(&x.pick)
	if err != nil {
		h.fail(w, r, x, err)
		return
	}
	x.target = target
	info.Target = target.String()
	info.Pick = x.pick.Reason
	// PickClaim counted the exchange (Target.Begin); x.target changes when a try is retried elsewhere (retry.go), which
	// moves the in-flight count along.
	defer func() { x.target.Done() }()
	if x.pick.SetCookie != "" {
		// Sticky session (policy cookie): tell the client its target.
		w.Header().Add("Set-Cookie", x.pick.SetCookie)
	}

	ctx, cancel := context.WithCancelCause(r.Context())
	x.cancel = cancel
	ctx = upstream.WithConnectTimeout(ctx, h.timeouts.Connect)
	ctx = context.WithValue(ctx, exchangeKey{}, x)
	x.begin = time.Now()
	info.UpstreamStart = x.begin
	defer x.finish(r) // also on panic(http.ErrAbortHandler), which it re-raises
	h.rp.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite builds the outbound request (ReverseProxy.Rewrite). By now
// ReverseProxy has cloned the request, removed the hop-by-hop fields
// (Connection, the fields it names, Keep-Alive, TE, Transfer-Encoding,
// Upgrade, ...; RFC 9110 §7.6.1) and re-added Connection/Upgrade for an
// upgrade; it removes them from the response as well. internal/protocol
// holds the same rule for the own engine; we keep ReverseProxy's here. It
// has also deleted the incoming Forwarded and X-Forwarded-* fields from
// pr.Out, so SetForwarded reads them from pr.In.
func (h *handler) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	in, out := pr.In, pr.Out

	// The URL is rebuilt from the target and the path and query the route
	// saw (after rewrite middleware), so nothing from the request line
	// chooses where we connect: an absolute-form target ("GET
	// http://evil.example/", RFC 9112 §3.2.2) or userinfo (which
	// http.Transport would turn into an Authorization field) is dropped.
	// The query is forwarded as received, as nginx does, instead of
	// ReverseProxy's re-encoding of unparsable parameters.
	out.URL.Scheme = x.target.Scheme()
	out.URL.Host = x.target.URLHost()
	out.URL.User = nil
	out.URL.Opaque = ""
	out.URL.Fragment, out.URL.RawFragment = "", ""
	out.URL.Path, out.URL.RawPath = in.URL.Path, in.URL.RawPath
	out.URL.RawQuery = in.URL.RawQuery
	out.URL.ForceQuery = in.URL.ForceQuery
	if h.preserveHost {
		// For an absolute-form request, net/http has already made Host the
		// URL's authority, as RFC 9112 §3.2.2 requires.
		out.Host = in.Host
	} else {
		out.Host = x.target.HostHeader()
	}

	peer := peerAddr(in.RemoteAddr)
	scheme := x.info.Scheme
	if scheme == "" {
		scheme = "http"
		if in.TLS != nil {
			scheme = "https"
		}
	}
	protocol.SetForwarded(out.Header, in.Header, peer, h.trusted.Contains(peer), scheme, in.Host)
	if h.idHeader != "" {
		if x.info.ID != "" {
			out.Header.Set(h.idHeader, x.info.ID)
		} else {
			out.Header.Del(h.idHeader)
		}
	}

	if out.Body != nil {
		out.Body = &uploadBody{rc: out.Body, x: x}
		x.enter(phaseUpload)
	} else {
		x.enter(phaseHeader)
	}
}

// modifyResponse runs once the response head arrived (any status).
func (h *handler) modifyResponse(res *http.Response) error {
	x := exchangeFrom(res.Request.Context())
	x.info.FirstByte = time.Since(x.begin)
	if h.idHeader != "" {
		// Ours wins over one the backend echoed, and is set again here
		// because forwarding a 1xx cleared the response header map. Safe:
		// RoundTrip has returned, so no 1xx can be written concurrently.
		res.Header.Del(h.idHeader)
		if x.info.ID != "" {
			x.w.Header().Set(h.idHeader, x.info.ID)
		}
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection is a bidirectional copy that outlives the
		// exchange's timeouts (DESIGN: streams belong to the connection).
		x.enter(phaseDone)
		return nil
	}
	res.Body = &responseBody{rc: res.Body, x: x}
	x.enter(phaseBody)
	return nil
}

// peerAddr parses the connection's RemoteAddr; invalid for a unix socket.
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}
