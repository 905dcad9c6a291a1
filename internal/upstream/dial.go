package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrUnknownDialAddress is returned by a pool's dialer asked to dial an
// address that is none of its targets. The proxy never builds such a
// request; the check makes sure nothing (an absolute-form request target, a
// redirect followed by mistake) can make a pool connect anywhere else.
var ErrUnknownDialAddress = errors.New("address is not a target of this pool")

type connectTimeoutKey struct{}

// WithConnectTimeout returns ctx carrying d as the bound for dialing a new
// connection for a request made with it (0 or negative: no bound).
//
// Why a context value and not a deadline: http.Transport detaches the dial
// from the request's cancellation (a dial outlives a cancelled request so a
// later one can use the connection), but keeps the request context's values.
// The timeout is per route, while the Transport is per pool, so the proxy
// places it here and the pool's dialer applies it.
func WithConnectTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, connectTimeoutKey{}, d)
}

// ConnectTimeout returns the bound WithConnectTimeout put into ctx (0:
// none), for clients other than the pool's Transport.
func ConnectTimeout(ctx context.Context) time.Duration { return connectTimeout(ctx) }

func connectTimeout(ctx context.Context) time.Duration {
	d, _ := ctx.Value(connectTimeoutKey{}).(time.Duration)
	return d
}

// dialer dials the targets of one pool. It is read-only after NewPool; the
// targets it may dial are the pool's current set.
type dialer struct {
	net  net.Dialer
	pool *Pool
	// fallback bounds a dial whose context carries no connect timeout (a
	// request built without the proxy). It equals the config default.
	fallback time.Duration
}

// DialContext is the http.Transport.DialContext hook. addr is the outbound
// URL's host:port, which names one target.
func (d *dialer) DialContext(ctx context.Context, _, addr string) (net.Conn, error) {
	t, ok := d.pool.set.Load().byHost[addr]
	if !ok {
		return nil, fmt.Errorf("dial %q: %w: %w", addr, protocol.ErrUpstreamConnect, ErrUnknownDialAddress)
	}
	timeout := connectTimeout(ctx)
	if timeout <= 0 {
		timeout = d.fallback
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c, err := d.net.DialContext(ctx, t.network, t.address)
	if err != nil {
		// ErrUpstreamConnect says the request was never sent (so it may
		// be retried elsewhere); the net.OpError keeps Timeout(), which
		// protocol.StatusFor maps to 504, and the address for the log. The
		// proxy never shows either to the client.
		return nil, fmt.Errorf("upstream %s: %w: %w", t.raw, protocol.ErrUpstreamConnect, err)
	}
	return c, nil
}
