package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// writePair issues a server leaf for s and writes it with its chain
// (leaf, CA, as a deployed certificate file has it) and its key into dir
// as NAME.crt / NAME.key.
func writePair(t testing.TB, ca *certs.CA, dir, name string, s certs.Spec) (certFile, keyFile string) {
	t.Helper()
	c := ca.Leaf(t, s)
	c.Certificate = append(c.Certificate, ca.Cert.Raw)
	return certs.WriteFiles(t, dir, name, c)
}

// serveTLS accepts TLS connections on 127.0.0.1 with cfg: each completes its
// handshake, gets "ok\n" and is closed. It returns the address.
func serveTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = io.WriteString(c, "ok\n")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake connects with cfg and returns the server's leaf once the server
// has accepted the connection (in TLS 1.3 a refused client certificate only
// shows at the first read).
func handshake(t testing.TB, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return nil, err
	}
	if string(b) != "ok\n" {
		return nil, errors.New("server closed without accepting")
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

func quietOptions() Options {
	return Options{Logger: slog.New(slog.DiscardHandler), DisableOCSP: true}
}
