package listen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrMinDataRate is matched (errors.Is) by the error Read returns once a
// client has been cut off for sending a request too slowly. The error also
// reports Timeout() == true, so that net/http closes the connection quietly
// as it does for its own read deadlines.
var ErrMinDataRate = errors.New("listen: client sent the request below the minimum data rate")

// errMinRate is the sticky error of a cut connection.
var errMinRate error = minRateError{}

type minRateError struct{}

func (minRateError) Error() string   { return ErrMinDataRate.Error() }
func (minRateError) Timeout() bool   { return true }
func (minRateError) Temporary() bool { return true }
func (minRateError) Is(target error) bool {
	return target == ErrMinDataRate || target == os.ErrDeadlineExceeded
}

// MinRateOption configures MinDataRateListener and MinDataRateConn.
type MinRateOption func(*minRateOptions)

type minRateOptions struct{ now func() time.Time }

// WithMinRateClock sets the clock used to account waiting time. The cut
// itself is a read deadline on the connection, which runs on real time.
// Default time.Now.
func WithMinRateClock(now func() time.Time) MinRateOption {
	return func(o *minRateOptions) {
		if now != nil {
			o.now = now
		}
	}
}

// MinDataRateListener wraps l so that every accepted connection is a
// MinDataRateConn with cfg. With cfg.BytesPerSecond zero it returns l
// unchanged. The error is a negative rate or a non-positive window with a
// rate set.
func MinDataRateListener(l net.Listener, cfg config.MinDataRate, opts ...MinRateOption) (net.Listener, error) {
	if err := checkMinRate(cfg); err != nil {
		return nil, err
	}
	if cfg.BytesPerSecond == 0 {
		return l, nil
	}
	return &minRateListener{Listener: l, cfg: cfg, opts: opts}, nil
}

type minRateListener struct {
	net.Listener
	cfg  config.MinDataRate
	opts []MinRateOption
}

// Accept returns the next connection wrapped by MinDataRateConn.
func (l *minRateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newMinRateConn(c, l.cfg, l.opts), nil
}

func checkMinRate(cfg config.MinDataRate) error {
	if cfg.BytesPerSecond < 0 || (cfg.BytesPerSecond > 0 && cfg.Window <= 0) {
		return fmt.Errorf("listen: invalid min_data_rate %d bytes per %v", cfg.BytesPerSecond, cfg.Window.D())
	}
	return nil
}

// MinDataRateConn wraps c, which must carry plaintext HTTP/1.x already
// checked by GuardConn (wrap the guarded connection, after TLS), so that a
// client sending a request too slowly is cut off: the slowloris defence that
// does not cut slow-but-moving uploads.
//
// Exactly: while a request is being received — from the first byte of its
// head to the last byte of its body — the client holds a credit of
// cfg.Window. Only time spent waiting in Read for the client's bytes drains
// it (time when nobody reads, e.g. while the proxy waits for a slow backend,
// does not), and every byte received adds 1/BytesPerSecond seconds, up to
// cfg.Window. When the credit runs out, the pending Read fails and so does
// every later one: the server closes the connection. So a request may
// stall at most Window at a time, and a client trickling at r bytes per
// second below the floor f is cut after about Window / (1 - r/f); a
// client at or above the floor is never cut, however large its body.
//
// Not counted: the idle time between keep-alive requests (bounded by the
// server's idle timeout), and the time the server spends writing responses.
// Measuring stops for good when the bytes stop being HTTP/1.1 requests: the
// h2c preface, or anything after a request that is not a request (the
// tunnel after an accepted Upgrade or CONNECT — GuardConn has refused any
// other non-HTTP bytes before they reach this wrapper).
//
// Deadlines set by the caller (net/http's ReadHeaderTimeout, IdleTimeout,
// the abort of its background read) keep working: the wrapper applies the
// earlier of the caller's read deadline and its own, and passes the
// caller's through unchanged when it is not measuring. With
// cfg.BytesPerSecond zero, c is returned unchanged. The result implements
// CloseWrite, ReadFrom and, if c does, ConnectionState; it has no
// SyscallConn, so a reader cannot bypass the measurement.
func MinDataRateConn(c net.Conn, cfg config.MinDataRate, opts ...MinRateOption) (net.Conn, error) {
	if err := checkMinRate(cfg); err != nil {
		return nil, err
	}
	if cfg.BytesPerSecond == 0 {
		return c, nil
	}
	return newMinRateConn(c, cfg, opts), nil
}

func newMinRateConn(c net.Conn, cfg config.MinDataRate, opts []MinRateOption) net.Conn {
	o := minRateOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	// Limits far above the guard's: this scanner only follows framing
	// and must never refuse what the guard let through.
	sc, _ := protocol.NewFramingScanner(protocol.FramingLimits{
		MaxURIBytes: 1 << 30, MaxHeaderBytes: 1 << 30, MaxChunkExtBytes: 1 << 30,
	})
	m := &minRateConn{
		Conn: c, now: o.now, window: cfg.Window.D(),
		perByte: time.Duration(float64(time.Second) / float64(cfg.BytesPerSecond)),
		sc:      sc,
	}
	if _, ok := c.(connectionStater); ok {
		return &tlsMinRateConn{m}
	}
	return m
}

type minRateConn struct {
	net.Conn
	now     func() time.Time
	window  time.Duration
	perByte time.Duration // credit one byte buys

	mu      sync.Mutex // guards the fields below; never held across I/O
	sc      *protocol.FramingScanner
	off     bool          // no longer HTTP/1.1 requests: never measure again
	active  bool          // a request is being received
	credit  time.Duration // how long the client may still keep a Read waiting
	cut     bool
	user    time.Time // the caller's read deadline
	ours    time.Time // our deadline while a measured Read is pending
	applied time.Time // the deadline last set on Conn
}

// Read implements net.Conn; see MinDataRateConn.
func (m *minRateConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	if m.cut {
		m.mu.Unlock()
		return 0, errMinRate
	}
	measuring := m.active && !m.off && len(p) > 0
	start := m.now()
	if measuring {
		m.ours = start.Add(m.credit)
	} else {
		m.ours = time.Time{}
	}
	if err := m.applyLocked(); err != nil {
		m.mu.Unlock()
		return 0, err
	}
	m.mu.Unlock()

	n, err := m.Conn.Read(p)

	m.mu.Lock()
	defer m.mu.Unlock()
	ours := m.ours
	m.ours = time.Time{}
	if measuring {
		m.credit = min(m.credit-m.now().Sub(start)+time.Duration(n)*m.perByte, m.window)
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() &&
			(m.user.IsZero() || m.user.After(ours)) && !m.now().Before(ours) {
			// Our deadline, not the caller's, expired.
			m.cut = true
			m.scan(p[:n])
			return n, errMinRate
		}
	}
	m.scan(p[:n])
	return n, err
}

// applyLocked sets the earlier of the caller's and our read deadline on
// Conn, if it is not set already. Called with mu held, so that a concurrent
// SetReadDeadline (net/http aborting its background read) is never lost.
func (m *minRateConn) applyLocked() error {
	eff := m.user
	if !m.ours.IsZero() && (eff.IsZero() || m.ours.Before(eff)) {
		eff = m.ours
	}
	if eff.Equal(m.applied) {
		return nil
	}
	m.applied = eff
	return m.Conn.SetReadDeadline(eff)
}

// scan follows request framing over the bytes just read. Called with mu held.
func (m *minRateConn) scan(b []byte) {
	for len(b) > 0 && !m.off {
		if !m.active {
			// The first byte of a request: a fresh credit.
			m.active, m.credit = true, m.window
		}
		n, v := m.sc.Feed(b)
		b = b[n:]
		switch v.Action {
		case protocol.MessageEnd:
			m.active = false
		case protocol.Reject, protocol.Passthrough:
			// Not HTTP/1.1 requests any more (see MinDataRateConn).
			m.off, m.active = true, false
		}
	}
}

// SetReadDeadline records the caller's read deadline and applies it, or our
// own if that is earlier while a measured Read is pending.
func (m *minRateConn) SetReadDeadline(t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.user = t
	return m.applyLocked()
}

// SetDeadline sets the write deadline on Conn and the read deadline as
// SetReadDeadline does.
func (m *minRateConn) SetDeadline(t time.Time) error {
	if err := m.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return m.SetReadDeadline(t)
}

// ReadFrom keeps the inner connection's sendfile/splice path reachable;
// writes are not measured.
func (m *minRateConn) ReadFrom(src io.Reader) (int64, error) { return readFrom(m.Conn, src) }

// CloseWrite half-closes the inner connection if it can.
func (m *minRateConn) CloseWrite() error { return closeWrite(m.Conn) }

// tlsMinRateConn keeps the inner connection's ConnectionState visible.
type tlsMinRateConn struct{ *minRateConn }

// ConnectionState returns the inner connection's TLS state.
func (t *tlsMinRateConn) ConnectionState() tls.ConnectionState {
	return t.Conn.(connectionStater).ConnectionState()
}
