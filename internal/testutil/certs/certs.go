package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority that lives as long as one test.
type CA struct {
	Cert *x509.Certificate
	// Key signs the leaves, and whatever else a test must sign as the
	// issuer (an OCSP response, say).
	Key  *ecdsa.PrivateKey
	Pool *x509.CertPool // trusts Cert only
	File string         // Cert as PEM, for configurations that name a CA file
}

// NewCA makes a CA whose subject is CN=name, valid from an hour ago (clock
// skew between the test and the code under test) to a day from now.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	cert := sign(t, tmpl, tmpl, key, key)
	ca := &CA{Cert: cert.Leaf, Key: key, Pool: x509.NewCertPool(), File: filepath.Join(t.TempDir(), "ca.pem")}
	ca.Pool.AddCert(cert.Leaf)
	writePEM(t, ca.File, "CERTIFICATE", cert.Leaf.Raw)
	return ca
}

// Spec describes a leaf certificate. The zero Spec is a server
// certificate without names, valid from an hour ago to a day from now.
type Spec struct {
	CN  string // subject common name; empty for none
	Org string // subject organization (O=), for tests that render subjects
	// Names are the subject alternative names: IP addresses where
	// net.ParseIP reads them, DNS names (wildcards too) otherwise.
	Names []string
	// Client makes a client-auth certificate instead of a server-auth
	// one: each fails verification for the other use.
	Client bool
	// NotBefore and NotAfter, when set, replace the default window (for
	// expired, not yet valid or soon expiring certificates).
	NotBefore, NotAfter time.Time
	Serial              *big.Int // nil for a random one
}

// Leaf issues a certificate for s signed by ca, with a fresh key. Its
// Certificate holds the leaf alone; Leaf is set.
func (ca *CA) Leaf(t testing.TB, s Spec) tls.Certificate {
	t.Helper()
	return sign(t, leafTemplate(t, s), ca.Cert, newKey(t), ca.Key)
}

func leafTemplate(t testing.TB, s Spec) *x509.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: s.Serial,
		Subject:      pkix.Name{CommonName: s.CN},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = serial(t)
	}
	if s.Org != "" {
		tmpl.Subject.Organization = []string{s.Org}
	}
	if s.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if !s.NotBefore.IsZero() {
		tmpl.NotBefore = s.NotBefore
	}
	if !s.NotAfter.IsZero() {
		tmpl.NotAfter = s.NotAfter
	}
	for _, n := range s.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl
}

// sign creates tmpl for key, signed by parent's parentKey, and returns it
// parsed back, as crypto/tls would load it.
func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// serial is random, so certificates of one test never share an
// issuer-and-serial pair.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
