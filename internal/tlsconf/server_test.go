package tlsconf

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

func startServer(t *testing.T, cfg config.ListenerTLS, opts Options) *Server {
	t.Helper()
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Three certificates: the default (first), an exact name and a wildcard.
// A real client gets the exact one for its name, the wildcard for one
// label under it, and the default for everything else (RFC 6125 section
// 6.4.3: the wildcard covers exactly one label).
func TestSNISelection(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "servers")
	defCert, defKey := writePair(t, ca, dir, "default", certs.Spec{CN: "default", Names: []string{"default.test", "127.0.0.1"}})
	exCert, exKey := writePair(t, ca, dir, "exact", certs.Spec{CN: "exact", Names: []string{"api.example.com"}})
	wcCert, wcKey := writePair(t, ca, dir, "wild", certs.Spec{CN: "wild", Names: []string{"*.example.com"}})
	s := startServer(t, config.ListenerTLS{
		Cert: defCert, Key: defKey,
		Certificates: []config.CertificateFiles{{Cert: exCert, Key: exKey}, {Cert: wcCert, Key: wcKey}},
	}, quietOptions())
	addr := serveTLS(t, s.TLSConfig())
	tests := []struct{ sni, want string }{
		{"api.example.com", "exact"},
		{"API.Example.COM", "exact"},
		{"www.example.com", "wild"},
		{"a.b.example.com", "default"},
		{"example.com", "default"},
		{"default.test", "default"},
		{"", "default"}, // no SNI: by the dialled address
	}
	for _, tt := range tests {
		t.Run(tt.sni, func(t *testing.T) {
			leaf, err := handshake(t, addr, &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			if leaf.Subject.CommonName != tt.want {
				t.Errorf("served %q, want %q", leaf.Subject.CommonName, tt.want)
			}
		})
	}
	t.Run("verified", func(t *testing.T) {
		if _, err := handshake(t, addr, &tls.Config{ServerName: "www.example.com", RootCAs: ca.Pool}); err != nil {
			t.Fatalf("wildcard chain does not verify: %v", err)
		}
	})
}

// A certificate file replaced on disk is served to new handshakes without
// a restart; a connection opened before keeps its certificate.
func TestFileReplacedServedWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "servers")
	certFile, keyFile := writePair(t, ca, dir, "site", certs.Spec{CN: "first", Names: []string{"site.test"}})
	opts := quietOptions()
	opts.PollInterval = 10 * time.Millisecond
	s := startServer(t, config.ListenerTLS{Cert: certFile, Key: keyFile}, opts)
	addr := serveTLS(t, s.TLSConfig())
	cfg := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool}
	old, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	// Replace both files the way a renewal tool does: write elsewhere,
	// rename over.
	tmp := t.TempDir()
	newCert, newKey := writePair(t, ca, tmp, "site", certs.Spec{CN: "second", Names: []string{"site.test"}})
	if err := os.Rename(newKey, keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newCert, certFile); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		leaf, err := handshake(t, addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Subject.CommonName == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %q 5s after the files were replaced", leaf.Subject.CommonName)
		}
		<-poll.C
	}
	if cn := old.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "first" {
		t.Errorf("open connection's certificate changed to %q", cn)
	}
}

// Certificates that cannot serve are refused at load with an error that
// names the file (and for dates, the names and the date); one close to
// expiry loads with a warning.
func TestLoadRefusesBadCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "servers")
	now := time.Now()
	expCert, expKey := writePair(t, ca, dir, "expired", certs.Spec{Names: []string{"old.test"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	futCert, futKey := writePair(t, ca, dir, "future", certs.Spec{Names: []string{"new.test"}, NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)})
	aCert, _ := writePair(t, ca, dir, "a", certs.Spec{Names: []string{"a.test"}})
	_, bKey := writePair(t, ca, dir, "b", certs.Spec{Names: []string{"b.test"}})
	tests := []struct {
		name       string
		cert, key  string
		sentinel   error
		mentioning []string
	}{
		{"expired", expCert, expKey, ErrExpired, []string{expCert, "old.test", "not after"}},
		{"not yet valid", futCert, futKey, ErrNotYetValid, []string{futCert, "new.test", "not before"}},
		{"mismatched key", aCert, bKey, ErrKeyMismatch, []string{aCert, bKey, "a.test"}},
		{"missing key", aCert, dir + "/nope.key", os.ErrNotExist, []string{dir + "/nope.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(config.ListenerTLS{Cert: tt.cert, Key: tt.key}, quietOptions())
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			for _, m := range tt.mentioning {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	t.Run("expiring soon warns", func(t *testing.T) {
		c, k := writePair(t, ca, dir, "soon", certs.Spec{Names: []string{"soon.test"}, NotAfter: now.Add(3 * 24 * time.Hour)})
		var buf syncBuffer
		opts := quietOptions()
		opts.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		startServer(t, config.ListenerTLS{Cert: c, Key: k}, opts)
		if !strings.Contains(buf.String(), "expires soon") || !strings.Contains(buf.String(), "soon.test") {
			t.Errorf("no expiry warning in log: %s", buf.String())
		}
	})
	t.Run("no source", func(t *testing.T) {
		if _, err := New(config.ListenerTLS{}, quietOptions()); !errors.Is(err, ErrNoSource) {
			t.Fatalf("err = %v, want ErrNoSource", err)
		}
	})
}

// A reload whose files do not load is refused, names the file, and the
// previous certificate keeps being served.
func TestUpdateKeepsServingOnError(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "servers")
	c, k := writePair(t, ca, dir, "site", certs.Spec{CN: "site", Names: []string{"site.test"}})
	s := startServer(t, config.ListenerTLS{Cert: c, Key: k}, quietOptions())
	addr := serveTLS(t, s.TLSConfig())
	err := s.Update(config.ListenerTLS{Cert: dir + "/missing.crt", Key: k})
	if err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Fatalf("Update err = %v, want one naming missing.crt", err)
	}
	leaf, err := handshake(t, addr, &tls.Config{ServerName: "site.test", RootCAs: ca.Pool})
	if err != nil || leaf.Subject.CommonName != "site" {
		t.Fatalf("after a failed Update: %v, %v", leaf, err)
	}
	// A good Update takes effect on the same TLSConfig.
	c2, k2 := writePair(t, ca, dir, "other", certs.Spec{CN: "other", Names: []string{"site.test"}})
	before := s.TLSConfig()
	if err := s.Update(config.ListenerTLS{Cert: c2, Key: k2, MinVersion: "1.3"}); err != nil {
		t.Fatal(err)
	}
	if s.TLSConfig() != before {
		t.Error("Update replaced the TLS config")
	}
	leaf, err = handshake(t, addr, &tls.Config{ServerName: "site.test", RootCAs: ca.Pool})
	if err != nil || leaf.Subject.CommonName != "other" {
		t.Fatalf("after Update: %v, %v", leaf, err)
	}
	if _, err := handshake(t, addr, &tls.Config{ServerName: "site.test", RootCAs: ca.Pool, MaxVersion: tls.VersionTLS12}); err == nil {
		t.Error("TLS 1.2 accepted after min_version 1.3")
	}
}

// The protocol defaults: no TLS 1.1, no CBC suite in TLS 1.2, ALPN h2.
func TestModernDefaults(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "servers")
	c, k := writePair(t, ca, dir, "site", certs.Spec{Names: []string{"site.test"}})
	s := startServer(t, config.ListenerTLS{Cert: c, Key: k}, quietOptions())
	addr := serveTLS(t, s.TLSConfig())
	base := &tls.Config{ServerName: "site.test", RootCAs: ca.Pool}
	tests := []struct {
		name string
		cfg  func(*tls.Config)
		ok   bool
	}{
		{"tls1.3", func(*tls.Config) {}, true},
		{"tls1.2 ecdhe gcm", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}, true},
		{"tls1.1", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 }, false},
		{"tls1.2 cbc", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base.Clone()
			tt.cfg(cfg)
			_, err := handshake(t, addr, cfg)
			if (err == nil) != tt.ok {
				t.Errorf("handshake err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if got := s.state.Load().conf.NextProtos; strings.Join(got, ",") != "h2,http/1.1" {
		t.Errorf("ALPN = %v", got)
	}
}

// staticSource is a CertSource with one certificate for one name: what
// internal/acme looks like from here.
type staticSource struct {
	name string
	cert *tls.Certificate
}

func (s staticSource) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if h.ServerName == s.name {
		return s.cert, nil
	}
	return nil, nil
}

// ACME certificates come after file ones and before the default, and
// hellos offering only acme-tls/1 go to the ACME source (RFC 8737).
func TestACMESourceOrder(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "servers")
	c, k := writePair(t, ca, dir, "file", certs.Spec{CN: "file", Names: []string{"file.test"}})
	acmeCert := ca.Leaf(t, certs.Spec{CN: "acme", Names: []string{"acme.test"}})
	opts := quietOptions()
	opts.ACME = staticSource{name: "acme.test", cert: &acmeCert}
	s := startServer(t, config.ListenerTLS{Cert: c, Key: k, ACME: &config.ACME{}}, opts)
	addr := serveTLS(t, s.TLSConfig())
	tests := []struct {
		sni   string
		alpn  []string
		want  string
		proto string
	}{
		{"file.test", nil, "file", ""},
		{"acme.test", nil, "acme", ""},
		{"other.test", nil, "file", ""},
		{"acme.test", []string{ALPNACME}, "acme", ALPNACME},
	}
	for _, tt := range tests {
		t.Run(tt.sni+strings.Join(tt.alpn, ""), func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true, NextProtos: tt.alpn})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if cn := st.PeerCertificates[0].Subject.CommonName; cn != tt.want {
				t.Errorf("served %q, want %q", cn, tt.want)
			}
			if st.NegotiatedProtocol != tt.proto {
				t.Errorf("ALPN %q, want %q", st.NegotiatedProtocol, tt.proto)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// BenchmarkGetCertificate measures the per-handshake certificate choice
// (exact, wildcard and default lookups).
func BenchmarkGetCertificate(b *testing.B) {
	dir := b.TempDir()
	ca := certs.NewCA(b, "servers")
	c1, k1 := writePair(b, ca, dir, "default", certs.Spec{Names: []string{"default.test"}})
	c2, k2 := writePair(b, ca, dir, "wild", certs.Spec{Names: []string{"*.example.com"}})
	s, err := New(config.ListenerTLS{Cert: c1, Key: k1, Certificates: []config.CertificateFiles{{Cert: c2, Key: k2}}}, quietOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hellos := []*tls.ClientHelloInfo{{ServerName: "default.test"}, {ServerName: "www.example.com"}, {ServerName: "other.test"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.getCertificate(hellos[i%len(hellos)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
