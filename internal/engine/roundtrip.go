package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// This file lets the net/http side of Gatehouse (HTTP/2 and HTTP/3
// clients, routes with middleware) send requests without a large body through
// the engine's connection pool instead of http.Transport. Transport runs
// every exchange on two goroutines of its own (a write loop and a read
// loop) and hands the request and response between them and the caller
// over channels; on the TLS + HTTP/2 profile that machinery was a sixth of
// the CPU. RoundTrip does the exchange on the caller's goroutine: write
// the head, read the response head, hand the body over; the connection
// goes back to the pool when the body has been read to its end.
//
// Requests without a body, or with a small body of known length, come
// here (DirectOK): the body is read whole before it is sent with the head
// in one write, as nginx buffers request bodies by default. A larger or
// streamed upload needs the body written while the response is read (a
// backend may answer early), which is what Transport's two loops are for;
// so do an Expect: 100-continue (the client waits for the backend's
// answer) and upgrades.

// maxDirectBody is the largest request body RoundTrip takes (read whole
// before it is sent): an API call's JSON, not an upload.
const maxDirectBody = 64 << 10

// directReadBuf is the response reader's buffer, as the pool's Transport
// (ReadBufferSize): a larger read of the body bypasses it.
const directReadBuf = 32 << 10

var (
	// errDirectHead: the backend's response head was over maxRespHead.
	errDirectHead = fmt.Errorf("upstream response head over %d bytes", maxRespHead)
	// errDirect101: a protocol switch nobody asked for (DirectOK keeps
	// upgrades on Transport).
	errDirect101 = errors.New("upstream switched protocols without an upgrade request")
	// errDirectRequest: the outbound request cannot be written as is.
	errDirectRequest = errors.New("invalid outbound request")
)

var (
	directReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, directReadBuf) }}
	directHeads   = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

// DirectOK reports whether RoundTrip can send req: no body (the proxy
// drops the body of a request with Content-Length 0) or one of known
// length up to maxDirectBody, no Expect and no upgrade.
func DirectOK(req *http.Request) bool {
	if req.Body == nil {
		if req.ContentLength != 0 {
			return false
		}
	} else if req.ContentLength <= 0 || req.ContentLength > maxDirectBody {
		return false
	}
	return len(req.Header["Upgrade"]) == 0 && len(req.Header["Expect"]) == 0
}

// RoundTrip sends req (DirectOK) to t over one of the pool's connections
// and returns the response. Its Body must be read to the end or closed:
// the first returns the connection to the pool, the second closes it. The
// request's context cancels the exchange at any point, and its error is
// then context.Cause of it; errors that mean the request never reached the
// target wrap protocol.ErrUpstreamConnect. The connect timeout is the one
// upstream.WithConnectTimeout put into the context.
func (p *ConnPool) RoundTrip(req *http.Request, t *upstream.Target) (*http.Response, error) {
	if !DirectOK(req) {
		return nil, fmt.Errorf("%w: a body of unknown or large size, an expectation or an upgrade", errDirectRequest)
	}
	ctx := req.Context()
	hp := directHeads.Get().(*[]byte)
	head, err := appendDirectHead((*hp)[:0], req)
	*hp = head[:0]
	defer directHeads.Put(hp)
	if err != nil {
		return nil, err
	}
	replayable := protocol.IsIdempotent(req.Method)
	connect := upstream.ConnectTimeout(ctx)
	if connect <= 0 {
		connect = time.Duration(config.DefaultConnectTimeout)
	}
	if req.Body != nil {
		// Read before a connection is taken, so that a slow upload does
		// not leave a pooled connection to go stale meanwhile. The proxy
		// hands over bodies it has read into memory already
		// (internal/proxy/retry.go), so this does not wait.
		head, err = appendDirectBody(head, req)
		*hp = head[:0]
		if err != nil {
			return nil, err
		}
	}
	uc := p.getSendable(t, time.Time{}, replayable)
	for {
		if uc == nil {
			if uc, err = p.dial(ctx, t, connect); err != nil {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				return nil, err
			}
		}
		res, err := p.exchange(ctx, req, uc, head)
		if err == nil {
			return res, nil
		}
		p.close(uc)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		// A pooled connection the backend had closed while idle: send
		// once more on a new one, when that cannot repeat the request's
		// effect (RFC 9110 §9.2.2), as Transport and the engine do.
		if uc.reused && (replayable || errors.Is(err, errNothingSent)) && staleConnError(err) {
			uc = nil
			continue
		}
		return nil, err
	}
}

// exchange writes head on uc and reads the response head.
func (p *ConnPool) exchange(ctx context.Context, req *http.Request, uc *upConn, head []byte) (*http.Response, error) {
	// The deadlines stay unset (Transport has none either): the proxy's
	// timeouts cancel the context, which cuts any wait below.
	uc.clearDeadlines()
	stop := context.AfterFunc(ctx, func() { _ = uc.nc.SetDeadline(aLongTimeAgo) })
	if n, err := uc.write(head); err != nil {
		stop()
		if n == 0 {
			return nil, fmt.Errorf("%w: %w", errNothingSent, err)
		}
		return nil, err
	}
	cr := &directConn{uc: uc, left: maxRespHead}
	br := directReaders.Get().(*bufio.Reader)
	br.Reset(cr)
	res, err := readDirectResponse(ctx, br, cr, req)
	if err != nil {
		stop()
		br.Reset(nil)
		directReaders.Put(br)
		return nil, err
	}
	cr.left = -1 // the head is read: no bound on the body
	body := &directBody{p: p, uc: uc, br: br, body: res.Body, stop: stop, ctx: ctx,
		keep: !res.Close && !req.Close}
	res.Body = body
	if body.body == http.NoBody {
		// ReadResponse found no body (HEAD, 204, 304, Content-Length 0).
		// Give the connection back now, so a caller that never reads
		// an empty body does not hold it.
		body.finish(true)
	}
	return res, nil
}

// readDirectResponse reads the final response head, passing interim
// responses to the request's trace (ReverseProxy forwards them). As in
// http.Transport, the head bound covers all interim heads unless the trace
// took them; then it starts over for each.
func readDirectResponse(ctx context.Context, br *bufio.Reader, cr *directConn, req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(ctx)
	for {
		res, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		switch {
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, errDirect101
		case res.StatusCode >= 200:
			return res, nil
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, err
			}
			cr.left = maxRespHead
		}
	}
}

// appendDirectHead appends req's HTTP/1.1 request head to b. It writes
// what http.Transport would: the request line with the URL's path and
// query, Host, the header fields (User-Agent only when not empty:
// ReverseProxy sets it empty to mean "none"), the body's Content-Length
// (0 for POST, PUT and PATCH without a body, as Transport: servers
// expect one there), and refuses a
// field name or value that could split the head (RFC 9110 §5.1, §5.5).
func appendDirectHead(b []byte, req *http.Request) ([]byte, error) {
	u := req.URL
	host := req.Host
	if host == "" {
		host = u.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return b, fmt.Errorf("%w: Host %q", errDirectRequest, host)
	}
	if !validMethod(req.Method) {
		return b, fmt.Errorf("%w: method %q", errDirectRequest, req.Method)
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if !validTarget(path) || !validTarget(u.RawQuery) {
		return b, fmt.Errorf("%w: request target", errDirectRequest)
	}
	b = append(b, path...)
	if u.ForceQuery || u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return b, fmt.Errorf("%w: field name %q", errDirectRequest, k)
		}
		for _, v := range vs {
			if k == "User-Agent" && v == "" {
				continue
			}
			if !httpguts.ValidHeaderFieldValue(v) {
				return b, fmt.Errorf("%w: value of %s", errDirectRequest, k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	switch {
	case req.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	case req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	if req.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

// appendDirectBody appends req's whole body (ContentLength bytes) to b and
// closes it (protocol.AppendContent says what a wrong length gives).
func appendDirectBody(b []byte, req *http.Request) ([]byte, error) {
	defer req.Body.Close()
	return protocol.AppendContent(b, req.Body, int(req.ContentLength))
}

// validMethod: a method is a token (RFC 9110 §9.1), as a field name is.
func validMethod(m string) bool { return httpguts.ValidHeaderFieldName(m) }

// validTarget: no byte that would end or split the request line.
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// aLongTimeAgo is a deadline in the past: it makes a pending read or
// write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// clearDeadlines disarms uc's deadlines (an engine exchange may have left
// them armed while the connection idled in the pool).
func (uc *upConn) clearDeadlines() {
	if !uc.rdl.t.IsZero() || !uc.wdl.t.IsZero() {
		_ = uc.nc.SetDeadline(time.Time{})
		uc.rdl.set(time.Time{})
		uc.wdl.set(time.Time{})
	}
}

// directConn reads uc, at most left bytes while left is not negative
// (the response head's bound, http.Transport's MaxResponseHeaderBytes).
type directConn struct {
	uc   *upConn
	left int
}

func (c *directConn) Read(p []byte) (int, error) {
	if c.left >= 0 {
		if c.left == 0 {
			return 0, errDirectHead
		}
		p = p[:min(len(p), c.left)]
	}
	n, err := c.uc.read(p)
	if c.left >= 0 {
		c.left -= n
	}
	return n, err
}

// directBody is the response body handed to the caller. Read and Close
// are called from one goroutine at a time (ReverseProxy reads and closes
// in its handler), as with any body; the context cancels a blocked Read.
type directBody struct {
	p    *ConnPool
	uc   *upConn
	br   *bufio.Reader
	body io.ReadCloser // http.ReadResponse's framing reader over br
	stop func() bool   // stops the context's deadline hook
	ctx  context.Context
	keep bool // the connection may carry another request
	done bool
	eof  bool // done at the body's end
}

func (b *directBody) Read(p []byte) (int, error) {
	if b.done {
		if b.eof {
			return 0, io.EOF
		}
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
	}
	return n, err
}

// Close ends the body: a body not read to its end takes its connection
// down (draining an unknown rest could take forever).
func (b *directBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish returns the connection to the pool when the body was read to its
// end on a connection that stays open, else closes it.
func (b *directBody) finish(eof bool) {
	b.done, b.eof = true, eof
	hookIdle := b.stop() // false: the context fired and touched the deadlines
	reuse := eof && b.keep && hookIdle && b.br.Buffered() == 0
	b.br.Reset(nil)
	directReaders.Put(b.br)
	b.br = nil
	if reuse {
		b.p.put(b.uc, time.Time{})
	} else {
		b.p.close(b.uc)
	}
}

// Accepts is DirectOK (the proxy's Direct interface).
func (p *ConnPool) Accepts(req *http.Request) bool { return DirectOK(req) }
