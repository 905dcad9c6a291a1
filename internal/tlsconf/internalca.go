package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Files of the internal CA in its directory.
const (
	RootCertFile = "root.crt"
	rootKeyFile  = "root.key"
)

// Lifetimes of the internal CA's certificates. Leaves are short so that a
// leaked development key is soon worthless; they are renewed when less than
// leafRenew is left, long before a client could see an expired one.
const (
	rootLifetime  = 10 * 365 * 24 * time.Hour
	leafLifetime  = 7 * 24 * time.Hour
	leafRenew     = 2 * 24 * time.Hour
	leafBackdate  = time.Hour // tolerate client clocks slightly behind
	maxLeafCached = 1024      // bound on distinct names cached (*.localhost is unbounded)
)

// DefaultInternalNames are the names the internal CA issues for when the
// configuration lists none: local development names only, never a public
// one (RFC 6761 section 6.3 reserves "localhost"; ".internal" is reserved
// for private use by ICANN).
var DefaultInternalNames = []string{"localhost", "*.localhost", "*.internal", "127.0.0.1", "::1"}

// internalCA is a local root (ECDSA P-256) and the leaves it issued, cached
// by name. Safe for concurrent use.
type internalCA struct {
	dir  string
	root *x509.Certificate
	key  *ecdsa.PrivateKey
	now  func() time.Time

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// EnsureCA loads the internal CA from dir, creating it (directory 0700, key
// 0600) the first time, and returns the path of its root certificate, the
// file a developer adds to the trust store (docs/tls.md).
func EnsureCA(dir string) (string, error) {
	if _, err := loadOrCreateCA(dir, time.Now); err != nil {
		return "", err
	}
	return filepath.Join(dir, RootCertFile), nil
}

// loadOrCreateCA reads the root from dir, or generates one there. The root
// is generated once and reused across restarts, so that trusting it once is
// enough.
func loadOrCreateCA(dir string, now func() time.Time) (*internalCA, error) {
	certPath, keyPath := filepath.Join(dir, RootCertFile), filepath.Join(dir, rootKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		err = createCA(dir, now())
		if errors.Is(err, fs.ErrExist) {
			// Another process is creating the root (its key is there,
			// its certificate comes next), or one died between the two
			// writes. Wait for the certificate; a key that never gets
			// one signed nothing anybody trusts and is replaced.
			err = waitOrReplaceCA(dir, now)
		}
		if err != nil {
			return nil, fmt.Errorf("internal CA in %s: %w", dir, err)
		}
		certPEM, err = os.ReadFile(certPath)
	}
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, fmt.Errorf("internal CA %s: no PEM certificate", certPath)
	}
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("internal CA %s: %w", certPath, err)
	}
	signer, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("internal CA %s: %w", keyPath, err)
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(root.PublicKey) {
		return nil, fmt.Errorf("%w: internal CA key %s is not the key of %s", ErrKeyMismatch, keyPath, certPath)
	}
	return &internalCA{dir: dir, root: root, key: key, now: now, leaves: map[string]*tls.Certificate{}}, nil
}

// caCreateWait is how long a process waits for another one's root
// certificate to appear next to its key before calling the key stale.
const caCreateWait = 2 * time.Second

// waitOrReplaceCA handles a root key without a certificate: it waits up to
// caCreateWait for the certificate (a concurrent createCA), then removes
// the orphaned key and creates the root afresh.
func waitOrReplaceCA(dir string, now func() time.Time) error {
	certPath := filepath.Join(dir, RootCertFile)
	deadline := time.Now().Add(caCreateWait)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(certPath); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling another process's write
	}
	if err := os.Remove(filepath.Join(dir, rootKeyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return createCA(dir, now())
}

// createCA writes a new root into dir. The key is written first with
// O_EXCL, so two processes starting together cannot both create one; the
// loser gets an error wrapping fs.ErrExist and waits for the winner's
// certificate (waitOrReplaceCA).
func createCA(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Gatehouse local CA " + host, Organization: []string{"Gatehouse development CA"}},
		NotBefore:             now.Add(-leafBackdate),
		NotAfter:              now.Add(rootLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // leaves only: no intermediate can hang below it
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	kf, err := os.OpenFile(filepath.Join(dir, rootKeyFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := pem.Encode(kf, &pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}); err != nil {
		_ = kf.Close()
		return err
	}
	if err := kf.Close(); err != nil {
		return err
	}
	// The certificate goes through a rename so a reader never sees half.
	tmp := filepath.Join(dir, RootCertFile+".tmp")
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, RootCertFile))
}

// leaf returns a certificate for name, issuing one when none is cached or
// the cached one is near its end.
func (ca *internalCA) leaf(name string) (*tls.Certificate, error) {
	now := ca.now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c := ca.leaves[name]; c != nil && c.Leaf.NotAfter.Sub(now) > leafRenew {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("internal CA: issue %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	if len(ca.leaves) >= maxLeafCached {
		clear(ca.leaves)
	}
	ca.leaves[name] = c
	return c, nil
}

// randomSerial returns a 128-bit positive serial number (RFC 5280 section
// 4.1.2.2 allows up to 20 octets; CA/B Forum wants at least 64 random bits).
func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

// nameAllowed reports whether the internal CA may issue for name under the
// patterns: an exact name or IP, or "*.suffix" covering one label.
func nameAllowed(patterns []string, name string) bool {
	if name == "" {
		return false
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		for _, p := range patterns {
			if pip, err := netip.ParseAddr(p); err == nil && pip.Unmap() == ip.Unmap() {
				return true
			}
		}
		return false
	}
	for _, p := range patterns {
		p = normalizeName(p)
		if p == name {
			return true
		}
		if suffix, ok := strings.CutPrefix(p, "*."); ok {
			if i := strings.IndexByte(name, '.'); i > 0 && name[i+1:] == suffix {
				return true
			}
		}
	}
	return false
}
