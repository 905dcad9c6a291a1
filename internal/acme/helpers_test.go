package acme

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/pebble"
)

// obtainTimeout bounds waiting for one certificate from pebble
// (PEBBLE_VA_NOSLEEP makes an order take well under a second).
const obtainTimeout = 60 * time.Second

// listen opens a listener on a free 127.0.0.1 port, closed at cleanup.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

// challengeCounter counts requests for the HTTP-01 path that reach h.
type challengeCounter struct {
	hits atomic.Int32
	h    http.Handler
}

func (c *challengeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		c.hits.Add(1)
	}
	c.h.ServeHTTP(w, r)
}

// serveHTTP serves h on l until cleanup.
func serveHTTP(t *testing.T, l net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// serveTLS completes TLS handshakes on l with getCert (nil, nil meaning
// "no certificate"), advertising acme-tls/1 as internal/tlsconf does, and
// closes each connection after its handshake.
func serveTLS(t *testing.T, l net.Listener, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) {
	t.Helper()
	cfg := &tls.Config{
		NextProtos: []string{"http/1.1", "acme-tls/1"},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := getCert(h)
			if c == nil && err == nil {
				err = errors.New("no certificate for this name")
			}
			return c, err
		},
	}
	tl := tls.NewListener(l, cfg)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(obtainTimeout))
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
}

// handshake connects to addr with SNI name, verifying against roots.
func handshake(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitCert polls addr until it serves name a certificate that chains to
// roots and satisfies ok (nil: any), or fails the test at the deadline.
func waitCert(t *testing.T, addr, name string, roots *x509.CertPool, ok func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(obtainTimeout)
	var last error
	for time.Now().Before(deadline) {
		cert, err := handshake(addr, name, roots)
		if err == nil && (ok == nil || ok(cert)) {
			return cert
		}
		last = err
		time.Sleep(50 * time.Millisecond) // polling a condition under a deadline
	}
	t.Fatalf("no certificate for %s at %s within %v (last error: %v)", name, addr, obtainTimeout, last)
	return nil
}

// issuingRoots is pebble's issuing root as a pool.
func issuingRoots(t *testing.T, p *pebble.Pebble) *x509.CertPool {
	t.Helper()
	root, err := p.IssuingRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool
}

// startManager builds and starts a Manager stopped at cleanup.
func startManager(t *testing.T, m *Manager, err error) *Manager {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	if err := m.Manage(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// helloFor is a ClientHello for name on a loopback connection (certmagic
// logs the hello's remote address).
func helloFor(t *testing.T, name string) *tls.ClientHelloInfo {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return &tls.ClientHelloInfo{ServerName: name, SupportedProtos: []string{"http/1.1"}, Conn: a}
}
