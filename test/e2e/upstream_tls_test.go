package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsCA is a throwaway certificate authority, written to a PEM file.
type tlsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	File string // the CA certificate (PEM)
	Pool *x509.CertPool
}

func newTLSCA(t *testing.T) *tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &tlsCA{cert: cert, key: key, File: filepath.Join(t.TempDir(), "ca.pem"), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	writePEMFile(t, ca.File, "CERTIFICATE", der)
	return ca
}

// issue returns a leaf for names (DNS names or IPs) and its PEM files;
// client selects client-auth usage instead of server-auth.
func (ca *tlsCA) issue(t *testing.T, client bool, names ...string) (cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEMFile(t, certFile, "CERTIFICATE", der)
	writePEMFile(t, keyFile, "PRIVATE KEY", kder)
	if cert, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

func writePEMFile(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsBackend is an HTTPS backend answering "PROTO SNI CLIENT-CN".
func tlsBackend(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s %s %s", r.Proto, r.TLS.ServerName, cn)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCAs != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCAs
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestUpstreamTLS: https:// targets are verified against the configured
// CA (HTTP/2 by ALPN, SNI = the target's name), a backend with a
// certificate from another CA gets 502 with no Go error text, a backend
// that requires a client certificate gets ours, and insecure_skip_verify
// works but is logged as a warning.
func TestUpstreamTLS(t *testing.T) {
	ca := newTLSCA(t)
	other := newTLSCA(t)
	serverCert, _, _ := ca.issue(t, false, "localhost", "127.0.0.1")
	foreignCert, _, _ := other.issue(t, false, "localhost", "127.0.0.1")
	_, clientCert, clientKey := ca.issue(t, true, "gatehouse")

	good := tlsBackend(t, serverCert, nil)
	wrong := tlsBackend(t, foreignCert, nil)
	mtls := tlsBackend(t, serverCert, ca.Pool)
	_, goodPort, _ := net.SplitHostPort(good)

	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - { match: { path: /good }, upstream: good }
  - { match: { path: /wrong }, upstream: wrong }
  - { match: { path: /mtls }, upstream: mtls }
  - { match: { path: /mtls-nocert }, upstream: mtls_nocert }
  - { match: { path: /insecure }, upstream: insecure }
upstreams:
  good:
    targets: [ "https://localhost:%[1]s" ]
    tls: { ca: %[2]q }
  wrong:
    targets: [ "https://%[3]s" ]
    tls: { ca: %[2]q }
  mtls:
    targets: [ "https://%[4]s" ]
    tls: { ca: %[2]q, cert: %[5]q, key: %[6]q }
  mtls_nocert:
    targets: [ "https://%[4]s" ]
    tls: { ca: %[2]q }
  insecure:
    targets: [ "https://%[3]s" ]
    tls: { insecure_skip_verify: true }
`, goodPort, ca.File, wrong, mtls, clientCert, clientKey))

	c := newClient(t)
	for _, tc := range []struct {
		path    string
		status  int
		body    string // exact, for 200
		backend string // for the leak check of errors
	}{
		{path: "/good", status: 200, body: "HTTP/2.0 localhost -"},
		{path: "/wrong", status: 502, backend: wrong},
		{path: "/mtls", status: 200, body: "HTTP/2.0  gatehouse"},
		{path: "/mtls-nocert", status: 502, backend: mtls},
		{path: "/insecure", status: 200, body: "HTTP/2.0  -"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			status, body, hdr := get(t, c, inst.URL(tc.path), "")
			if status != tc.status {
				t.Fatalf("status %d (%q), want %d", status, body, tc.status)
			}
			if tc.status == 200 {
				if body != tc.body {
					t.Fatalf("backend saw %q, want %q (proto, SNI, client certificate)", body, tc.body)
				}
				return
			}
			assertErrorBody(t, body, hdr, tc.backend)
			for _, leak := range []string{"x509", "certificate", "tls", "handshake", "authority"} {
				if strings.Contains(strings.ToLower(body), leak) {
					t.Errorf("error body %q leaks %q", body, leak)
				}
			}
		})
	}
	w := inst.WaitLog(0, "upstream TLS certificate verification is disabled (insecure_skip_verify); anyone on the path can impersonate the backend")
	if w.str("upstream") != "insecure" {
		t.Errorf("insecure warning names upstream %q", w.str("upstream"))
	}
}
