package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrBadTransport is wrapped by NewPool's errors about an upstream's tls
// settings (unreadable or empty CA bundle, bad client certificate) and
// about targets that mix schemes.
var ErrBadTransport = errors.New("invalid upstream transport settings")

const (
	// h2PingAfter is how long an HTTP/2 connection to a target may be
	// silent before we send a PING (RFC 9113 section 6.7) to find out
	// whether it is still alive; a long gRPC stream over a dead
	// connection would otherwise hang until the kernel gives up.
	h2PingAfter = 30 * time.Second
	// h2PingTimeout closes the connection when the PING is not answered.
	h2PingTimeout = 15 * time.Second
	// tlsSessionCacheSize bounds the TLS session tickets kept for
	// resumption (one per target name is enough; a few spare).
	tlsSessionCacheSize = 256
)

// buildTransport creates the pool's one round tripper for the scheme its
// targets share (config validation enforces one scheme per upstream; a pool
// built from unvalidated data that mixes them is an error):
//
//   - "http": HTTP/1.1 with pooled keep-alive connections;
//   - "h2c": HTTP/2 over cleartext TCP with prior knowledge (RFC 9113
//     section 3.3), which gRPC backends speak;
//   - "https": TLS (1.2 or later, verified unless insecure_skip_verify),
//     HTTP/2 when the target offers "h2" by ALPN (RFC 7301), else HTTP/1.1.
//
// All three dial through p.dial, so they dial only this pool's targets
// under the route's connect timeout, and keep the same per-target limits.
func (p *Pool) buildTransport() error {
	scheme, err := poolScheme(p.set.Load().list)
	if err != nil {
		return err
	}
	t := p.baseTransport()
	var protocols http.Protocols
	switch scheme {
	case "h2c":
		// UnencryptedHTTP2 without HTTP1 makes net/http speak HTTP/2 with
		// prior knowledge to http:// URLs (Transport.Protocols doc).
		protocols.SetUnencryptedHTTP2(true)
		t.HTTP2 = h2Config()
	case "https":
		tc, err := upstreamTLSConfig(p.cfg.TLS)
		if err != nil {
			return err
		}
		if p.cfg.TLS != nil && p.cfg.TLS.InsecureSkipVerify {
			p.opts.Logger.Warn("upstream TLS certificate verification is disabled (insecure_skip_verify); anyone on the path can impersonate the backend",
				"upstream", p.name)
		}
		td := &tlsDialer{pool: p, base: tc}
		if p.cfg.TLS != nil {
			td.serverName = p.cfg.TLS.ServerName
		}
		t.DialTLSContext = td.DialTLSContext
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
		t.HTTP2 = h2Config()
	default:
		protocols.SetHTTP1(true)
	}
	t.Protocols = &protocols
	p.transport = t
	p.closeIdle = t.CloseIdleConnections
	return nil
}

// poolScheme returns the one scheme of list ("http" for an empty pool).
func poolScheme(list []*Target) (string, error) {
	scheme := ""
	for _, t := range list {
		switch {
		case scheme == "":
			scheme = t.scheme
		case t.scheme != scheme:
			return "", fmt.Errorf("%w: targets mix %s:// and %s://; use one scheme per upstream", ErrBadTransport, scheme, t.scheme)
		}
	}
	if scheme == "" {
		scheme = "http"
	}
	return scheme, nil
}

// baseTransport is what every scheme shares: the dialer and the keep-alive
// limits per target (the transport keys its pool by URL host, which is one
// target).
func (p *Pool) baseTransport() *http.Transport {
	cfg := p.cfg
	maxIdle := cfg.MaxIdlePerTarget
	if maxIdle == 0 {
		maxIdle = fallbackMaxIdlePerTarget
	}
	idleTimeout := cfg.IdleConnTimeout.D()
	if idleTimeout == 0 {
		idleTimeout = fallbackIdleConnTimeout
	}
	return &http.Transport{
		Proxy:       nil, // never take a proxy from the environment
		DialContext: p.dial.DialContext,
		// No total bound; the per-target bound is what matters.
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: maxIdle,
		MaxConnsPerHost:     cfg.MaxConnsPerTarget, // 0 = no bound
		IdleConnTimeout:     idleTimeout,
		// The proxy bounds the wait for the response head per route.
		ResponseHeaderTimeout:  0,
		ExpectContinueTimeout:  expectContinueTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// We forward the client's Accept-Encoding as is and never add one:
		// a transparently decompressed body would change what the client
		// asked for (RFC 9110 section 12.5.3).
		DisableCompression: true,
		WriteBufferSize:    bufferSize,
		ReadBufferSize:     bufferSize,
	}
}

func h2Config() *http.HTTP2Config {
	return &http.HTTP2Config{SendPingTimeout: h2PingAfter, PingTimeout: h2PingTimeout}
}

// upstreamTLSConfig builds the client TLS settings shared by a pool's
// connections; ServerName is filled per connection by tlsDialer. Errors name
// the file at fault and wrap ErrBadTransport.
func upstreamTLSConfig(c *config.UpstreamTLS) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// h2 first: multiplexing is why a backend offers it. RFC 7301.
		NextProtos:         []string{"h2", "http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessionCacheSize),
	}
	if c == nil {
		return tc, nil
	}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("%w: tls ca %q: %w", ErrBadTransport, c.CA, err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls ca %q holds no PEM certificate", ErrBadTransport, c.CA)
		}
		tc.RootCAs = roots
	}
	if c.Cert != "" || c.Key != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: tls client certificate %q / key %q: %w", ErrBadTransport, c.Cert, c.Key, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	// Only when the operator asked; buildTransport logs a warning.
	tc.InsecureSkipVerify = c.InsecureSkipVerify
	return tc, nil
}

// tlsDialer dials a target through the pool's dialer and performs the TLS
// handshake itself, so that the name sent (SNI) and verified is the
// target's host name even when the URL host is one of its resolved
// addresses (resolve.go).
type tlsDialer struct {
	pool       *Pool
	base       *tls.Config
	serverName string // tls.server_name override; "" = the target's host
}

// DialTLSContext is the http.Transport.DialTLSContext hook. The returned
// connection has completed its handshake, so the transport reads the ALPN
// result from it and speaks HTTP/2 when "h2" was agreed.
func (d *tlsDialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	name := d.serverName
	raw := addr
	if t, ok := d.pool.set.Load().byHost[addr]; ok {
		raw = t.raw
		if name == "" {
			name = tlsHostOf(t)
		}
	}
	conn, err := d.pool.dial.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.base.Clone()
	cfg.ServerName = name
	tc := tls.Client(conn, cfg)
	// The handshake is part of connecting: the same bound applies.
	timeout := connectTimeout(ctx)
	if timeout <= 0 {
		timeout = d.pool.dial.fallback
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		// Nothing of the request was sent, so ErrUpstreamConnect (the
		// proxy may retry elsewhere; the client sees a bare 502/504).
		return nil, fmt.Errorf("upstream %s: tls handshake: %w: %w", raw, protocol.ErrUpstreamConnect, err)
	}
	return tc, nil
}

// tlsHostOf is the name a target's certificate must carry: the host of
// its Host header, which is the configured host name (also for a target
// made from one of the name's addresses) or the configured IP address.
func tlsHostOf(t *Target) string {
	host, _, err := net.SplitHostPort(t.hostHeader)
	if err != nil {
		return t.hostHeader
	}
	return host
}
