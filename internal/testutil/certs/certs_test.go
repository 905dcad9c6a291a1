package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"
)

// Leaves verify against their CA's pool for the names and the one use
// they were issued for, and for nothing else.
func TestLeafVerifies(t *testing.T) {
	ca := NewCA(t, "test CA")
	other := NewCA(t, "other CA")
	now := time.Now()
	server := Spec{CN: "site", Names: []string{"site.test", "127.0.0.1", "*.example.com"}}
	client := Spec{CN: "alice", Client: true}
	tests := []struct {
		name    string
		ca      *CA
		spec    Spec
		host    string // the name verified; "" for none (client certificates)
		usage   x509.ExtKeyUsage
		wantErr bool
	}{
		{"server by DNS name", ca, server, "site.test", x509.ExtKeyUsageServerAuth, false},
		{"server by IP address", ca, server, "127.0.0.1", x509.ExtKeyUsageServerAuth, false},
		{"server by wildcard", ca, server, "www.example.com", x509.ExtKeyUsageServerAuth, false},
		{"server for another name", ca, server, "other.test", x509.ExtKeyUsageServerAuth, true},
		{"server as a client", ca, server, "", x509.ExtKeyUsageClientAuth, true},
		{"client", ca, client, "", x509.ExtKeyUsageClientAuth, false},
		{"client as a server", ca, client, "", x509.ExtKeyUsageServerAuth, true},
		{"another CA's", other, server, "site.test", x509.ExtKeyUsageServerAuth, true},
		{"expired", ca, Spec{Names: []string{"old.test"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)},
			"old.test", x509.ExtKeyUsageServerAuth, true},
		{"not yet valid", ca, Spec{Names: []string{"new.test"}, NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)},
			"new.test", x509.ExtKeyUsageServerAuth, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.ca.Leaf(t, tt.spec)
			if len(c.Certificate) != 1 || !bytes.Equal(c.Certificate[0], c.Leaf.Raw) {
				t.Fatalf("Certificate is not the leaf alone: %d certificates", len(c.Certificate))
			}
			_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool, DNSName: tt.host, KeyUsages: []x509.ExtKeyUsage{tt.usage}})
			if (err != nil) != tt.wantErr {
				t.Errorf("Verify: %v, want error=%t", err, tt.wantErr)
			}
		})
	}
}

// Subject and serial are what the spec says, for tests that render them.
func TestLeafSubjectAndSerial(t *testing.T) {
	c := NewCA(t, "test CA").Leaf(t, Spec{CN: "alice", Org: "Example", Serial: big.NewInt(0xabc123), Client: true})
	if got := c.Leaf.Subject.String(); got != "CN=alice,O=Example" {
		t.Errorf("subject %q", got)
	}
	if got := c.Leaf.SerialNumber.Text(16); got != "abc123" {
		t.Errorf("serial %s", got)
	}
}

// The written files load as crypto/tls loads them; a chain keeps its
// order; the CA file holds the CA certificate.
func TestFiles(t *testing.T) {
	ca := NewCA(t, "test CA")
	leaf := ca.Leaf(t, Spec{Names: []string{"site.test"}})
	chain := leaf
	chain.Certificate = [][]byte{leaf.Certificate[0], ca.Cert.Raw}
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		c    tls.Certificate
	}{{"leaf", leaf}, {"chain", chain}} {
		t.Run(tt.name, func(t *testing.T) {
			certFile, keyFile := WriteFiles(t, dir, tt.name, tt.c)
			got, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Certificate) != len(tt.c.Certificate) {
				t.Fatalf("%d certificates loaded, want %d", len(got.Certificate), len(tt.c.Certificate))
			}
			for i := range got.Certificate {
				if !bytes.Equal(got.Certificate[i], tt.c.Certificate[i]) {
					t.Errorf("certificate %d differs", i)
				}
			}
		})
	}
	t.Run("CA", func(t *testing.T) {
		b, err := os.ReadFile(ca.File)
		if err != nil {
			t.Fatal(err)
		}
		if block, _ := pem.Decode(b); block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, ca.Cert.Raw) {
			t.Errorf("%s does not hold the CA certificate", ca.File)
		}
	})
	t.Run("self-signed", func(t *testing.T) {
		certFile, keyFile, pool := SelfSigned(t)
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"127.0.0.1", "localhost"} {
			opts := x509.VerifyOptions{Roots: pool, DNSName: name}
			if _, err := c.Leaf.Verify(opts); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}
