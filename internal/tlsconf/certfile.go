package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Sentinel errors of certificate loading; match them with errors.Is. The
// wrapping error names the file and the certificate's names.
var (
	// ErrExpired: the certificate's NotAfter has passed.
	ErrExpired = errors.New("certificate has expired")
	// ErrNotYetValid: the certificate's NotBefore is still ahead.
	ErrNotYetValid = errors.New("certificate is not valid yet")
	// ErrKeyMismatch: the private key is not the certificate's key.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrNoCertificate: no source has a certificate for the name asked.
	ErrNoCertificate = errors.New("no certificate for this name")
	// ErrNoSource: a configuration with neither files, ACME nor the
	// internal CA has nothing to serve.
	ErrNoSource = errors.New("no certificate source (set cert and key, certificates, acme or internal)")
)

// expiryWarning is how close to NotAfter a certificate loads with a
// warning instead of silently.
const expiryWarning = 7 * 24 * time.Hour

// fileCert is one certificate loaded from files. The loaded certificate
// never changes; an OCSP staple is added by swapping in a stapled copy, so
// that a handshake reading it never races the stapler.
type fileCert struct {
	certFile, keyFile string
	cert              *tls.Certificate // Leaf set
	names             []string         // DNS SANs and IP SANs, lower case
	stapled           atomic.Pointer[tls.Certificate]
	ocspNext          time.Time // when to fetch a staple again; stapler goroutine only
}

// get returns the certificate to serve: the stapled copy when there is one.
func (f *fileCert) get() *tls.Certificate {
	if c := f.stapled.Load(); c != nil {
		return c
	}
	return f.cert
}

// loadCertFiles reads one PEM certificate chain and its key, checks that the
// key belongs to the first certificate and that the certificate is valid at
// now. Errors name the file; expired and not-yet-valid ones also name the
// certificate's names and dates.
func loadCertFiles(certFile, keyFile string, now time.Time) (*fileCert, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("certificate %s: no PEM CERTIFICATE block", certFile)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", keyFile, err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w: key %s is not the key of certificate %s (%s)", ErrKeyMismatch, keyFile, certFile, strings.Join(certNames(leaf), ", "))
	}
	if err := checkValidity(leaf, now); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	return &fileCert{
		certFile: certFile, keyFile: keyFile,
		cert:  &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf},
		names: certNames(leaf),
	}, nil
}

// checkValidity refuses a certificate outside its validity period: serving
// it would only make every client fail the handshake (RFC 5280 section
// 4.1.2.5), and the operator learns it at load rather than from users.
func checkValidity(leaf *x509.Certificate, now time.Time) error {
	names := strings.Join(certNames(leaf), ", ")
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("%w: names %s, not after %s (now %s)", ErrExpired, names,
			leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("%w: names %s, not before %s (now %s)", ErrNotYetValid, names,
			leaf.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseKey decodes the first private key block of a PEM file: PKCS #8,
// PKCS #1 (RSA) or SEC 1 (EC).
func parseKey(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM private key block")
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		var key any
		var err error
		switch b.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		}
		if err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		}
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
}

// certNames returns the names a certificate is served for: its DNS and IP
// SANs, lower case; the subject CN only when it has no SAN (legacy; modern
// clients ignore the CN, RFC 6125 section 6.4.4).
func certNames(leaf *x509.Certificate) []string {
	var names []string
	for _, n := range leaf.DNSNames {
		names = append(names, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = append(names, strings.ToLower(leaf.Subject.CommonName))
	}
	return names
}
