package clientcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// issue makes a certificate for cn signed by parent (self-signed when nil).
func issue(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"127.0.0.1"},
		IPAddresses: nil,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

func TestClientCert(t *testing.T) {
	ca, caKey, _ := issue(t, "Test CA", true, nil, nil)
	alice, _, aliceTLS := issue(t, "alice", false, ca, caKey)
	_, _, bobTLS := issue(t, "bob", false, ca, caKey)
	_, _, strangerTLS := issue(t, "alice", false, nil, nil) // same name, not from the CA
	sum := sha256.Sum256(alice.Raw)
	aliceFP := hex.EncodeToString(sum[:])

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, tc := range []struct {
		name   string
		cfg    map[string]any
		client *tls.Certificate
		want   int
	}{
		{"no certificate", nil, nil, http.StatusForbidden},
		{"verified", nil, &aliceTLS, http.StatusOK},
		{"subject listed", map[string]any{"subjects": []any{"CN=alice,O=Test"}}, &aliceTLS, http.StatusOK},
		{"subject not listed", map[string]any{"subjects": []any{"CN=alice,O=Test"}}, &bobTLS, http.StatusForbidden},
		{"subject regex", map[string]any{"subjects": []any{"~^CN=(alice|bob),"}}, &bobTLS, http.StatusOK},
		{"fingerprint pinned", map[string]any{"fingerprints": []any{aliceFP}}, &aliceTLS, http.StatusOK},
		{"fingerprint other", map[string]any{"fingerprints": []any{aliceFP}}, &bobTLS, http.StatusForbidden},
		// Another CA's certificate with the same name: Go's client does not
		// even offer it (it matches none of the listener's CAs), and one
		// that arrived unverified would not pass either.
		{"same subject, other CA", map[string]any{"subjects": []any{"CN=alice,O=Test"}}, &strangerTLS, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mw, err := New(config.NewMiddlewareSpec(Name, tc.cfg), middleware.Env{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
			srv.StartTLS()
			defer srv.Close()
			tr := srv.Client().Transport.(*http.Transport).Clone()
			if tc.client != nil {
				tr.TLSClientConfig.Certificates = []tls.Certificate{*tc.client}
			}
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	t.Run("bad settings", func(t *testing.T) {
		for _, cfg := range []map[string]any{{"subjects": []any{"~("}}, {"fingerprints": []any{"abc"}}} {
			if _, err := New(config.NewMiddlewareSpec(Name, cfg), middleware.Env{}); err == nil {
				t.Errorf("%v accepted", cfg)
			}
		}
	})
}
