package listen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// ErrInvalidLimits is returned (wrapped) by AdmitListener and PerIPListener
// for a negative or non-finite limit.
var ErrInvalidLimits = errors.New("listen: invalid connection limits")

// LimitOption configures AdmitListener and PerIPListener.
type LimitOption func(*limitOptions)

type limitOptions struct {
	now func() time.Time
	log *slog.Logger
}

func newLimitOptions(opts []LimitOption) limitOptions {
	o := limitOptions{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithLimitClock sets the clock the accept-rate token bucket reads. Waiting
// for a token still uses a real timer. Default time.Now.
func WithLimitClock(now func() time.Time) LimitOption {
	return func(o *limitOptions) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLimitLogger makes the limit listeners log each refused connection at
// Debug (remote address, reason). Default: no logging.
func WithLimitLogger(log *slog.Logger) LimitOption {
	return func(o *limitOptions) {
		if log != nil {
			o.log = log
		}
	}
}

// AdmitListener wraps l to enforce limits.MaxConns and limits.AcceptRate /
// AcceptBurst (MaxConnsPerIP is PerIPListener's, because with the PROXY
// protocol the client address is only known after the header is read). It
// belongs directly on the raw TCP listener, before anything reads a byte, so
// that connections still in a PROXY-header or TLS handshake count too.
//
// Over MaxConns, a connection is accepted and closed at once rather than
// left in the kernel's backlog: a doomed connection then costs the client one
// round trip instead of a timeout, and the backlog stays free for the
// connections that will be served once others close.
//
// AcceptRate is a token bucket (AcceptBurst tokens, refilled at AcceptRate
// per second; a zero AcceptBurst means ceil(AcceptRate)). Without a token,
// Accept waits before accepting: new connections queue in the kernel's
// backlog, and past it the kernel drops their SYNs, which clients retry. A
// connection refused for MaxConns has used a token.
//
// Every returned connection counts until its first Close (a second Close does
// not release twice); a hijacked connection (WebSocket) counts until it is
// closed. When both limits are zero, l is returned unchanged. A negative
// limit is an error wrapping ErrInvalidLimits. Safe for concurrent use.
func AdmitListener(l net.Listener, limits config.ListenerLimits, opts ...LimitOption) (net.Listener, error) {
	if limits.MaxConns < 0 || limits.AcceptRate < 0 || limits.AcceptBurst < 0 ||
		math.IsNaN(limits.AcceptRate) || math.IsInf(limits.AcceptRate, 0) {
		return nil, fmt.Errorf("%w: %+v", ErrInvalidLimits, limits)
	}
	if limits.MaxConns == 0 && limits.AcceptRate == 0 {
		return l, nil
	}
	o := newLimitOptions(opts)
	a := &admitListener{Listener: l, max: int64(limits.MaxConns), opts: o, closed: make(chan struct{})}
	if limits.AcceptRate > 0 {
		burst := limits.AcceptBurst
		if burst == 0 {
			burst = int(math.Ceil(limits.AcceptRate))
		}
		a.bucket = rate.NewLimiter(rate.Limit(limits.AcceptRate), burst)
	}
	return a, nil
}

type admitListener struct {
	net.Listener
	max    int64 // 0: no limit
	bucket *rate.Limiter
	opts   limitOptions
	open   atomic.Int64

	closed    chan struct{}
	closeOnce sync.Once
}

// Accept waits for an accept-rate token, then returns the next connection
// that fits under MaxConns, closing those that do not.
func (a *admitListener) Accept() (net.Conn, error) {
	for {
		if err := a.waitToken(); err != nil {
			return nil, err
		}
		c, err := a.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !a.take() {
			a.opts.log.Debug("connection refused", "remote", c.RemoteAddr().String(), "reason", "max_conns")
			_ = c.Close()
			continue
		}
		return newCountedConn(c, a.release), nil
	}
}

// take reserves one connection slot, if one is free.
func (a *admitListener) take() bool {
	if a.max == 0 {
		a.open.Add(1)
		return true
	}
	for {
		n := a.open.Load()
		if n >= a.max {
			return false
		}
		if a.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (a *admitListener) release() { a.open.Add(-1) }

// waitToken blocks until the token bucket grants one connection, or the
// listener is closed.
func (a *admitListener) waitToken() error {
	if a.bucket == nil {
		return nil
	}
	now := a.opts.now()
	r := a.bucket.ReserveN(now, 1) // burst >= 1, so always OK
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-a.closed:
		r.CancelAt(a.opts.now())
		return net.ErrClosed
	}
}

// Close closes the inner listener and ends a pending wait for a token.
// Accepted connections stay open.
func (a *admitListener) Close() error {
	a.closeOnce.Do(func() { close(a.closed) })
	return a.Listener.Close()
}

// PerIPListener wraps l to bound the open connections of one client to maxPerIP:
// past it a new connection is accepted and closed at once. The client is
// taken from each connection's RemoteAddr, so behind the PROXY protocol wrap
// the ProxyListener (whose connections report the header's address), not
// the raw listener. IPv4 clients are counted per address; IPv6 clients per
// /64, the block one subscriber usually holds, since counting per /128 would
// let one host open as many connections as it has addresses. IPv4-mapped IPv6
// addresses count as IPv4. A connection whose address is not IP is not
// limited.
//
// Counting ends on a connection's first Close, as for AdmitListener. A zero
// maxPerIP returns l unchanged; a negative one is an error wrapping
// ErrInvalidLimits. Safe for concurrent use.
func PerIPListener(l net.Listener, maxPerIP int, opts ...LimitOption) (net.Listener, error) {
	if maxPerIP < 0 {
		return nil, fmt.Errorf("%w: max_conns_per_ip %d", ErrInvalidLimits, maxPerIP)
	}
	if maxPerIP == 0 {
		return l, nil
	}
	return &perIPListener{Listener: l, max: maxPerIP, opts: newLimitOptions(opts), open: make(map[netip.Prefix]int)}, nil
}

type perIPListener struct {
	net.Listener
	max  int
	opts limitOptions

	mu   sync.Mutex
	open map[netip.Prefix]int // only keys with a non-zero count
}

// Accept returns the next connection whose client is under the limit.
func (p *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := p.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := clientKey(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		p.mu.Lock()
		n := p.open[key]
		if n >= p.max {
			p.mu.Unlock()
			p.opts.log.Debug("connection refused", "remote", c.RemoteAddr().String(), "reason", "max_conns_per_ip")
			_ = c.Close()
			continue
		}
		p.open[key] = n + 1
		p.mu.Unlock()
		return newCountedConn(c, func() { p.release(key) }), nil
	}
}

func (p *perIPListener) release(key netip.Prefix) {
	p.mu.Lock()
	if n := p.open[key] - 1; n > 0 {
		p.open[key] = n
	} else {
		delete(p.open, key) // keep the map as small as the set of clients
	}
	p.mu.Unlock()
}

// clientKey is the unit a client is counted by: an IPv4 address, or the
// /64 of an IPv6 one.
func clientKey(a net.Addr) (netip.Prefix, bool) {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if a == nil {
			return netip.Prefix{}, false
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Prefix{}, false
		}
		ip = ap.Addr()
	}
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// countedConn releases its slot exactly once, on the first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func newCountedConn(c net.Conn, release func()) *countedConn {
	return &countedConn{Conn: c, release: release}
}

// Close closes the connection and, the first time, frees its slot.
func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ReadFrom keeps the inner connection's sendfile/splice path reachable.
func (c *countedConn) ReadFrom(src io.Reader) (int64, error) { return readFrom(c.Conn, src) }

// CloseWrite half-closes the inner connection if it can.
func (c *countedConn) CloseWrite() error { return closeWrite(c.Conn) }

// SyscallConn exposes the inner connection's descriptor for readiness-based
// reads: counting happens on Close only, so reads may bypass this wrapper.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSyscallConn
}

// errNoSyscallConn: the inner connection has no file descriptor.
var errNoSyscallConn = errors.New("listen: connection has no file descriptor")

// readFrom forwards io.ReaderFrom to inner when it has it, so wrappers do
// not hide sendfile/splice from net/http.
func readFrom(inner net.Conn, src io.Reader) (int64, error) {
	if rf, ok := inner.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{inner}, src)
}

// closeWrite half-closes inner when it can.
func closeWrite(inner net.Conn) error {
	if cw, ok := inner.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// ProtectListener wraps the raw TCP listener ln in lc's connection-level
// protections, in the order they must run: AdmitListener (max_conns,
// accept_rate) on the socket itself, so that connections still in a
// PROXY header or TLS handshake count; then ProxyListener when
// lc.ProxyProtocol is set (headerTimeout bounds a trusted peer's header);
// then PerIPListener, which thereby counts the client address from the
// header. TLS, the framing guard and MinDataRateListener go on top of the
// result. With no protection configured it returns ln itself. On error
// nothing was started and ln is left open (the caller closes it).
func ProtectListener(ln net.Listener, lc config.Listener, headerTimeout time.Duration, log *slog.Logger) (net.Listener, error) {
	if lc.Limits.MaxConnsPerIP < 0 { // before ProxyListener starts its goroutine
		return nil, fmt.Errorf("%w: max_conns_per_ip %d", ErrInvalidLimits, lc.Limits.MaxConnsPerIP)
	}
	out, err := AdmitListener(ln, lc.Limits, WithLimitLogger(log))
	if err != nil {
		return nil, err
	}
	if lc.ProxyProtocol != nil {
		if out, err = ProxyListener(out, *lc.ProxyProtocol, headerTimeout, WithProxyLogger(log)); err != nil {
			return nil, err
		}
	}
	return PerIPListener(out, lc.Limits.MaxConnsPerIP, WithLimitLogger(log))
}
