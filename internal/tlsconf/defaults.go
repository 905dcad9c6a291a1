package tlsconf

import (
	"crypto/tls"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// cipherSuites12 are the TLS 1.2 suites offered: ECDHE key exchange only
// (forward secrecy) and AEAD ciphers only (no CBC: Lucky13, POODLE-class
// padding oracles), the set RFC 9325 section 4.2 recommends. TLS 1.3 suites
// are not configurable in crypto/tls and are all AEAD with (EC)DHE.
var cipherSuites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves: the post-quantum hybrid X25519MLKEM768 first (clients that
// support it avoid harvest-now-decrypt-later), then X25519 and P-256, the
// two groups every current client has (RFC 8446 section 9.1 makes them
// mandatory-to-implement). P-384/P-521 only cost CPU.
var curves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// newConfig returns the protocol settings for cfg; getCertificate and
// client auth are filled in by the caller.
func (s *Server) newConfig(cfg config.ListenerTLS) *tls.Config {
	c := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     cipherSuites12,
		CurvePreferences: curves,
		// h2 preferred over http/1.1 (RFC 7301, RFC 9113 section 3.2).
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: s.getCertificate,
		Time:           s.now,
	}
	if cfg.MinVersion == "1.3" {
		c.MinVersion = tls.VersionTLS13
	}
	if s.opts.ACME != nil {
		c.NextProtos = append(c.NextProtos, ALPNACME)
	}
	return c
}
