package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// SetTLSOptions sets how the Manager builds each TLS listener's
// certificate server: f is called once per TLS listener the Manager opens
// (internal/tlsconf: data directory, ACME source, shared ticket keys). Call
// it before the first Apply; without it the zero tlsconf.Options are used
// (with the Manager's logger).
func (m *Manager) SetTLSOptions(f func(config.Listener) tlsconf.Options) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tlsOpts = f
}

// openTLS builds a new TLS listener's certificate server.
func (m *Manager) openTLS(lc config.Listener) (*tlsconf.Server, error) {
	var opts tlsconf.Options
	if m.tlsOpts != nil {
		opts = m.tlsOpts(lc)
	}
	if opts.Logger == nil {
		opts.Logger = m.logger.With("listener", lc.Name)
	}
	return tlsconf.New(*lc.TLS, opts)
}

// updateTLS applies a reload to a kept listener: certificate files are read
// again and settings rebuilt; on an error the listener keeps serving the
// previous certificates (tlsconf.Server.Update).
func (s *server) updateTLS(lc config.Listener) error {
	switch {
	case s.certs == nil && lc.TLS == nil:
		return nil
	case s.certs == nil || lc.TLS == nil:
		return errors.New("cannot switch a running listener between TLS and plain HTTP; use another address")
	}
	if err := s.certs.Update(*lc.TLS); err != nil {
		return err
	}
	s.setHSTS(lc.TLS.HSTS)
	return nil
}

// closeCerts stops the certificate server's background work (file polling,
// ticket rotation); handshakes still in flight keep working.
func (s *server) closeCerts() {
	if s.certs != nil {
		s.certs.Close()
	}
}

// setHSTS sets the Strict-Transport-Security value the listener adds.
func (s *server) setHSTS(cfg *config.HSTS) {
	v := tlsconf.HSTSValue(cfg)
	s.hsts.Store(&v)
}

// withHSTS adds Strict-Transport-Security to every response of a TLS
// listener when tls.hsts is set (RFC 6797 section 7.1; never on plain HTTP:
// section 7.2). It is set before the handler runs, so a backend's own
// header comes second and browsers use the first (section 8.1).
func (s *server) withHSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := s.hsts.Load(); v != nil && *v != "" {
			w.Header().Set("Strict-Transport-Security", *v)
		}
		next.ServeHTTP(w, r)
	})
}

// tlsDispatcher terminates TLS itself so that HTTP/1.1 over TLS still goes
// through the framing guard (which must see plaintext): after the
// handshake, connections that negotiated h2 are served by the HTTP/2 server
// directly, and HTTP/1.1 ones are guarded and handed to net/http through
// Accept. Handshakes run on their own goroutines so a slow client cannot
// hold up Accept.
type tlsDispatcher struct {
	net.Listener
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once

	// h2 are the connections being served by the HTTP/2 server, outside
	// the http.Server's bookkeeping (connset.go).
	h2 connSet
}

func newTLSDispatcher(ln net.Listener, tlsCfg *tls.Config, srv *http.Server, limits protocol.FramingLimits, handshakeTimeout, writeTimeout time.Duration, logger *slog.Logger) (*tlsDispatcher, error) {
	// Limits against HTTP/2 abuse (h2.go); the header list size comes
	// from srv.MaxHeaderBytes.
	h2 := newH2Server(srv.IdleTimeout, writeTimeout)
	if err := configureH2(srv, h2); err != nil {
		return nil, err
	}
	d := &tlsDispatcher{Listener: ln, conns: make(chan net.Conn), closed: make(chan struct{}), h2: newConnSet()}
	go d.acceptLoop(tlsCfg, srv, h2, limits, handshakeTimeout, logger)
	return d, nil
}

// Accept back-off after a failure other than the listener being closed,
// as net/http's Serve does.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

func (d *tlsDispatcher) acceptLoop(tlsCfg *tls.Config, srv *http.Server, h2 *http2.Server, limits protocol.FramingLimits, timeout time.Duration, logger *slog.Logger) {
	var delay time.Duration
	for {
		raw, err := d.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				d.Close()
				return
			}
			// Running out of file descriptors (EMFILE) or a connection
			// aborted before accept is not the end of the listener:
			// closing here would stop the TLS listener for good under
			// load. Wait and try again, unless Close comes first.
			delay = min(max(2*delay, acceptRetryMin), acceptRetryMax)
			logger.Warn("accept failed; retrying", "address", d.Addr().String(), "delay", delay.String(), "error", err)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-d.closed:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		go d.handshake(raw, tlsCfg, srv, h2, limits, timeout, logger)
	}
}

func (d *tlsDispatcher) handshake(raw net.Conn, tlsCfg *tls.Config, srv *http.Server, h2 *http2.Server, limits protocol.FramingLimits, timeout time.Duration, logger *slog.Logger) {
	tc := tls.Server(raw, tlsCfg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		logger.Debug("tls handshake failed", "remote", raw.RemoteAddr().String(), "error", err)
		_ = raw.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		if !d.h2.add(tc) {
			_ = tc.Close()
			return
		}
		defer d.h2.remove(tc)
		base := markTLS(context.Background(), tc)
		h2.ServeConn(tc, &http2.ServeConnOpts{Context: base, BaseConfig: srv, Handler: srv.Handler})
		return
	}
	select {
	case d.conns <- GuardConn(tc, limits, WithGuardLogger(logger)):
	case <-d.closed:
		_ = tc.Close()
	}
}

func (d *tlsDispatcher) Accept() (net.Conn, error) {
	select {
	case c := <-d.conns:
		return c, nil
	case <-d.closed:
		return nil, net.ErrClosed
	}
}

func (d *tlsDispatcher) Close() error {
	var err error
	d.once.Do(func() {
		close(d.closed)
		err = d.Listener.Close()
	})
	return err
}

// waitConns waits until no HTTP/2 connection is left or ctx ends. The
// http.Server's Shutdown does not wait for them (it sends them GOAWAY
// through the hook http2.ConfigureServer installs, and they end once their
// streams have); goAway runs that hook again (connSet.wait).
func (d *tlsDispatcher) waitConns(ctx context.Context, goAway func()) error {
	return d.h2.wait(ctx, goAway)
}

// closeConns closes every HTTP/2 connection still being served, and any
// that completes its handshake later. HTTP/1.1 connections belong to the
// http.Server (srv.Close ends them).
func (d *tlsDispatcher) closeConns() { d.h2.closeAll() }
