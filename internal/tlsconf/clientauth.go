package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Client authentication modes (config.ClientAuth.Mode).
const (
	ClientAuthRequire       = "require"
	ClientAuthVerifyIfGiven = "verify_if_given"
	ClientAuthRequest       = "request"
)

// clientAuth maps a ClientAuth section to crypto/tls terms. Nil means no
// client certificate is asked for. "require" and "verify_if_given" verify
// the chain against the CA bundle (RFC 8446 section 4.4.2.4: the server
// aborts on a certificate it cannot verify); "request" asks for one and
// leaves checking to whoever reads it (placeholders, logs).
func clientAuth(ca *config.ClientAuth) (tls.ClientAuthType, *x509.CertPool, error) {
	if ca == nil {
		return tls.NoClientCert, nil, nil
	}
	var mode tls.ClientAuthType
	switch ca.Mode {
	case "", ClientAuthRequire:
		mode = tls.RequireAndVerifyClientCert
	case ClientAuthVerifyIfGiven:
		mode = tls.VerifyClientCertIfGiven
	case ClientAuthRequest:
		mode = tls.RequestClientCert
	default:
		return 0, nil, fmt.Errorf("client_auth: unknown mode %q", ca.Mode)
	}
	if ca.CA == "" {
		if mode == tls.RequestClientCert {
			return mode, nil, nil
		}
		return 0, nil, fmt.Errorf("client_auth: mode %q needs a ca bundle", ca.Mode)
	}
	data, err := os.ReadFile(ca.CA)
	if err != nil {
		return 0, nil, fmt.Errorf("client_auth ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return 0, nil, fmt.Errorf("client_auth ca %s: no PEM certificate in the file", ca.CA)
	}
	return mode, pool, nil
}
