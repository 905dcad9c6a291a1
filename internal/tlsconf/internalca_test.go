package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func rootPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("root file holds no certificate")
	}
	return pool
}

// The internal CA issues for the allowed development names only, and its
// leaves verify against the root it wrote (the file a developer trusts).
func TestInternalCAIssuesVerifiableLeaves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	s := startServer(t, config.ListenerTLS{Internal: &config.InternalCA{Dir: dir}}, quietOptions())
	root := s.InternalRoot()
	if root != filepath.Join(dir, RootCertFile) {
		t.Fatalf("InternalRoot = %q", root)
	}
	fi, err := os.Stat(filepath.Join(dir, rootKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root key: %v, mode %v", err, fi.Mode())
	}
	pool := rootPool(t, root)
	addr := serveTLS(t, s.TLSConfig())
	tests := []struct {
		sni string
		ok  bool
	}{
		{"localhost", true},
		{"demo.localhost", true},
		{"app.internal", true},
		{"", true}, // 127.0.0.1, by the dialled address
		{"a.b.localhost", false},
		{"example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.sni, func(t *testing.T) {
			cfg := &tls.Config{ServerName: tt.sni, RootCAs: pool}
			if tt.sni == "" {
				// Go verifies an IP-addressed server against its IP SANs.
				cfg.ServerName = "127.0.0.1"
			}
			leaf, err := handshake(t, addr, cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil {
				if life := leaf.NotAfter.Sub(leaf.NotBefore); life > leafLifetime+leafBackdate {
					t.Errorf("leaf lives %v", life)
				}
			}
		})
	}
}

// The root is generated once and reused on restart.
func TestInternalCAReusedOnRestart(t *testing.T) {
	dir := t.TempDir()
	first, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	second, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(second)
	if first != second || string(a) != string(b) {
		t.Fatal("a second start made a new root")
	}
	// Without tls.internal.dir the CA lives in DataDir/ca.
	data := t.TempDir()
	s := startServer(t, config.ListenerTLS{Internal: &config.InternalCA{}}, Options{DataDir: data, DisableOCSP: true})
	if got := s.InternalRoot(); got != filepath.Join(data, "ca", RootCertFile) {
		t.Errorf("InternalRoot = %q, want under DataDir/ca", got)
	}
}

// Leaves are cached and renewed before expiry, on the injected clock.
func TestInternalCARenewsLeaves(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	ca, err := loadOrCreateCA(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ca.leaf("localhost")
	if a != b {
		t.Error("leaf not cached")
	}
	now.Add(int64(leafLifetime - leafRenew + time.Minute))
	c, _ := ca.leaf("localhost")
	if c == a {
		t.Error("leaf not renewed near its end")
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: func() *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(ca.root)
		return p
	}(), CurrentTime: clock()}); err != nil {
		t.Errorf("renewed leaf does not verify: %v", err)
	}
}

func TestNameAllowed(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"localhost", true}, {"x.localhost", true}, {"x.y.localhost", false},
		{"db.internal", true}, {"internal", false}, {"127.0.0.1", true}, {"::1", true},
		{"10.0.0.1", false}, {"example.com", false}, {"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nameAllowed(DefaultInternalNames, tt.name); got != tt.ok {
				t.Errorf("nameAllowed(%q) = %v", tt.name, got)
			}
		})
	}
}

// A root key left without its certificate (a process died between the
// two writes) does not block the CA for good: it is replaced.
func TestInternalCAOrphanKeyReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, rootKeyFile), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := loadOrCreateCA(dir, time.Now)
	if err != nil {
		t.Fatalf("an orphaned key blocked the internal CA: %v", err)
	}
	if ca.root == nil || ca.key == nil {
		t.Fatal("no root after replacing the orphaned key")
	}
}
