package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// WriteFiles writes c into dir as NAME.crt (every certificate of
// c.Certificate, leaf first, so a test can append the issuer for a chain)
// and NAME.key (PKCS #8), the files a TLS configuration names.
func WriteFiles(t testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	var chain bytes.Buffer
	for _, der := range c.Certificate {
		if err := pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			t.Fatal(err)
		}
	}
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, chain.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

// SelfSigned writes a self-signed server certificate for 127.0.0.1 and
// localhost into a temporary directory and returns its files and a pool
// that trusts it: for tests that need a TLS listener, not a CA.
func SelfSigned(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	tmpl := leafTemplate(t, Spec{CN: "127.0.0.1", Names: []string{"127.0.0.1", "localhost"}})
	key := newKey(t)
	cert := sign(t, tmpl, tmpl, key, key)
	pool = x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	certFile, keyFile = WriteFiles(t, t.TempDir(), "server", cert)
	return certFile, keyFile, pool
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
