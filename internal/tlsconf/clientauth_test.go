package tlsconf

import (
	"crypto/tls"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// mTLS: each mode against no certificate, one from the trusted CA and one
// from another CA, with a real client and listener.
func TestClientAuthModes(t *testing.T) {
	dir := t.TempDir()
	servers := certs.NewCA(t, "servers")
	clients := certs.NewCA(t, "clients")
	rogue := certs.NewCA(t, "rogue")
	c, k := writePair(t, servers, dir, "site", certs.Spec{Names: []string{"site.test"}})
	good := clients.Leaf(t, certs.Spec{CN: "alice", Client: true})
	bad := rogue.Leaf(t, certs.Spec{CN: "mallory", Client: true})
	tests := []struct {
		mode              string
		none, trusted, un bool // accepted?
	}{
		{ClientAuthRequire, false, true, false},
		{ClientAuthVerifyIfGiven, true, true, false},
		{ClientAuthRequest, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			s := startServer(t, config.ListenerTLS{Cert: c, Key: k,
				ClientAuth: &config.ClientAuth{Mode: tt.mode, CA: clients.File}}, quietOptions())
			addr := serveTLS(t, s.TLSConfig())
			cases := []struct {
				name  string
				certs []tls.Certificate
				want  bool
			}{
				{"no certificate", nil, tt.none},
				{"trusted", []tls.Certificate{good}, tt.trusted},
				{"untrusted", []tls.Certificate{bad}, tt.un},
			}
			for _, cc := range cases {
				for _, maxV := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
					// GetClientCertificate sends the certificate even when
					// its issuer is not among the CAs the server names (a
					// Go client would otherwise send none).
					send := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
						if len(cc.certs) == 0 {
							return &tls.Certificate{}, nil
						}
						return &cc.certs[0], nil
					}
					_, err := handshake(t, addr, &tls.Config{ServerName: "site.test", RootCAs: servers.Pool, GetClientCertificate: send, MaxVersion: maxV})
					if (err == nil) != cc.want {
						t.Errorf("%s (max %x): err = %v, want accepted=%v", cc.name, maxV, err, cc.want)
					}
				}
			}
		})
	}
}

func TestClientAuthConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		ca   *config.ClientAuth
	}{
		{"unknown mode", &config.ClientAuth{Mode: "maybe", CA: "x"}},
		{"require without ca", &config.ClientAuth{Mode: ClientAuthRequire}},
		{"missing ca file", &config.ClientAuth{CA: dir + "/none.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := clientAuth(tt.ca); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
