package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// Local keys rotate every TicketRotation on the injected clock, newest
// first, the last three kept.
func TestLocalTicketKeysRotate(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLocalTicketKeys(func() time.Time { return now })
	var seen [][32]byte
	for i := range 5 {
		keys, err := l.TicketKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := min(i+1, ticketKeep); len(keys) != want {
			t.Fatalf("step %d: %d keys, want %d", i, len(keys), want)
		}
		if i > 0 && keys[1] != seen[len(seen)-1] {
			t.Fatalf("step %d: previous key not second", i)
		}
		again, _ := l.TicketKeys(context.Background())
		if again[0] != keys[0] {
			t.Fatalf("step %d: rotated before TicketRotation", i)
		}
		seen = append(seen, keys[0])
		now = now.Add(TicketRotation)
	}
}

// sharedKeys is a TicketKeySource with fixed keys: two instances of one
// cluster.
type sharedKeys [][32]byte

func (k sharedKeys) TicketKeys(context.Context) ([][32]byte, error) { return k, nil }

// wrapLikeQUIC serves s the way quic-go's HTTP/3 server does: an outer
// config of its own (whose ticket keys are its own, random) that returns a
// clone of the listener's per-handshake config.
func wrapLikeQUIC(s *Server) *tls.Config {
	base := s.TLSConfig()
	return &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := base.GetConfigForClient(chi)
		if err != nil || c == nil {
			return c, err
		}
		return c.Clone(), nil
	}}
}

// The shared ticket keys reach a listener's per-handshake config, so a
// server that wraps it (HTTP/3) resumes a session another instance
// issued; and they stay on it when a reload builds a new one.
func TestTicketKeysReachWrappedConfigs(t *testing.T) {
	ca := certs.NewCA(t, "servers")
	cert, key := writePair(t, ca, t.TempDir(), "srv", certs.Spec{CN: "srv", Names: []string{"localhost"}})
	cfg := config.ListenerTLS{Cert: cert, Key: key}
	opts := quietOptions()
	opts.TicketKeys = sharedKeys{{1}, {2}}
	a, b := startServer(t, cfg, opts), startServer(t, cfg, opts)
	addrA, addrB := serveTLS(t, wrapLikeQUIC(a)), serveTLS(t, wrapLikeQUIC(b))
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	resumed := func(addr string, client *tls.Config) bool {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		// Reading to the end takes in the ticket, sent before "ok".
		if _, err := io.ReadAll(c); err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().DidResume
	}
	across := func(step string) {
		t.Helper()
		client := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		if resumed(addrA, client) {
			t.Fatalf("%s: the first handshake resumed", step)
		}
		if !resumed(addrB, client) {
			t.Fatalf("%s: a ticket from A did not resume on B with the same keys", step)
		}
	}
	across("after New")
	for _, s := range []*Server{a, b} {
		if err := s.Update(cfg); err != nil {
			t.Fatal(err)
		}
	}
	across("after Update")
}
