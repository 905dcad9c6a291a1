package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// resumeAcross makes a full TLS 1.3 handshake with first, reads a response
// there (so the session ticket arrives), then connects to second with the
// same session cache and reports whether that handshake resumed.
func resumeAcross(t *testing.T, first, second string, pool *x509.CertPool) bool {
	t.Helper()
	cache := tls.NewLRUClientSessionCache(4)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: cache, NextProtos: []string{"http/1.1"}}
	get := func(addr string) bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: clientTimeout}, "tcp", addr, cfg)
		if err != nil {
			t.Fatalf("TLS to %s: %v", addr, err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(clientTimeout))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(c); err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().DidResume
	}
	if get(first) {
		t.Fatal("the first handshake resumed a session nobody issued")
	}
	return get(second)
}

// notifyingCache is a client session cache that says when a ticket is
// stored: a QUIC server sends its ticket after the handshake.
type notifyingCache struct {
	tls.ClientSessionCache
	put chan struct{}
}

func (c *notifyingCache) Put(key string, cs *tls.ClientSessionState) {
	c.ClientSessionCache.Put(key, cs)
	if cs != nil {
		select {
		case c.put <- struct{}{}:
		default:
		}
	}
}

// resumeAcrossH3 is resumeAcross over QUIC (HTTP/3's ALPN).
func resumeAcrossH3(t *testing.T, first, second string, pool *x509.CertPool) bool {
	t.Helper()
	cache := &notifyingCache{ClientSessionCache: tls.NewLRUClientSessionCache(4), put: make(chan struct{}, 1)}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: cache, NextProtos: []string{http3.NextProtoH3}}
	dial := func(addr string) *quic.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		c, err := quic.DialAddr(ctx, addr, cfg, &quic.Config{})
		if err != nil {
			t.Fatalf("QUIC to %s: %v", addr, err)
		}
		return c
	}
	c := dial(first)
	if c.ConnectionState().TLS.DidResume {
		t.Fatal("the first QUIC handshake resumed a session nobody issued")
	}
	select {
	case <-cache.put:
	case <-time.After(clientTimeout):
		t.Fatal("no session ticket from the first instance over QUIC")
	}
	_ = c.CloseWithError(0, "")
	c = dial(second)
	defer c.CloseWithError(0, "")
	return c.ConnectionState().TLS.DidResume
}

// Session resumption across instances: with cluster.redis the ticket keys
// are shared, so a client resumes on an instance other than the one that
// issued its ticket, over TCP and over QUIC (HTTP/3) alike; without it,
// each instance has its own keys.
func TestTLSResumptionAcrossInstances(t *testing.T) {
	certFile, keyFile, pool := certs.SelfSigned(t)
	rs := redisserver.Start(t)
	cfg := func(cluster bool) string {
		c := fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: %q, key: %q, http3: true }
routes:
  - respond: { status: 200, body: "ok" }
`, certFile, keyFile)
		if cluster {
			c += fmt.Sprintf("cluster:\n  redis: { address: %q, prefix: \"ghresume:\" }\n", rs.Addr())
		}
		return c
	}
	for _, tc := range []struct {
		transport string
		across    func(t *testing.T, first, second string, pool *x509.CertPool) bool
	}{{"TCP", resumeAcross}, {"QUIC", resumeAcrossH3}} {
		t.Run(tc.transport+"/shared through redis", func(t *testing.T) {
			a, b := start(t, cfg(true)), start(t, cfg(true))
			if !tc.across(t, a.Addr, b.Addr, pool) {
				t.Fatal("a ticket from instance A was not accepted by instance B sharing its Redis")
			}
		})
		t.Run(tc.transport+"/not shared without a cluster", func(t *testing.T) {
			a, b := start(t, cfg(false)), start(t, cfg(false))
			if tc.across(t, a.Addr, b.Addr, pool) {
				t.Fatal("two independent instances resumed each other's sessions")
			}
		})
	}
}
