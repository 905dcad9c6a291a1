package placeholder

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// The {tls.client.*} placeholders render the verified client certificate's
// subject, SHA-256 fingerprint and serial, and "" without one.
func TestClientCertPlaceholders(t *testing.T) {
	c := certs.NewCA(t, "test CA").Leaf(t, certs.Spec{CN: "alice", Org: "Example", Serial: big.NewInt(0xabc123), Client: true})
	cert, der := c.Leaf, c.Certificate[0]
	sum := sha256.Sum256(der)
	fp := hex.EncodeToString(sum[:])

	withCert := httptest.NewRequest("GET", "https://example.com/", nil)
	withCert.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	noCert := httptest.NewRequest("GET", "https://example.com/", nil)
	noCert.TLS = &tls.ConnectionState{}
	plain := httptest.NewRequest("GET", "http://example.com/", nil)

	tests := []struct {
		tmpl             string
		with, none, http string
	}{
		{"{tls.client.subject}", "CN=alice,O=Example", "", ""},
		{"{tls.client.fingerprint}", fp, "", ""},
		{"{tls.client.serial}", "abc123", "", ""},
		{"sub={tls.client.subject};fp={tls.client.fingerprint}", "sub=CN=alice,O=Example;fp=" + fp, "sub=;fp=", "sub=;fp="},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tp, err := Compile(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.Render(withCert); got != tt.with {
				t.Errorf("with certificate: %q, want %q", got, tt.with)
			}
			if got := tp.Render(noCert); got != tt.none {
				t.Errorf("without certificate: %q, want %q", got, tt.none)
			}
			if got := tp.Render(plain); got != tt.http {
				t.Errorf("plain HTTP: %q, want %q", got, tt.http)
			}
		})
	}
}
