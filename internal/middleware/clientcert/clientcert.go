package clientcert

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// Name is the middleware's config name.
const Name = "client_cert"

func init() { middleware.Register(Name, New) }

// Config is client_cert's settings. With neither list, any certificate
// the listener verified passes.
type Config struct {
	// Subjects: the verified certificate's subject (RFC 4514 form, as
	// {tls.client.subject} renders it) must equal one of these, or match
	// one written "~regex".
	Subjects []string `yaml:"subjects"`
	// Fingerprints: the certificate's SHA-256 fingerprint (hex, as
	// {tls.client.fingerprint}; colons and case ignored) must be one of
	// these (certificate pinning).
	Fingerprints []string `yaml:"fingerprints"`
}

type rules struct {
	exact  map[string]bool
	re     []*regexp.Regexp
	prints map[string]bool
}

// New builds the middleware; a bad regex or fingerprint is an error at the
// entry's position.
func New(spec config.MiddlewareSpec, _ middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	ru := &rules{exact: map[string]bool{}, prints: map[string]bool{}}
	for _, s := range cfg.Subjects {
		if re, ok := strings.CutPrefix(s, "~"); ok {
			c, err := regexp.Compile(re)
			if err != nil {
				return nil, config.ErrorList{config.Errorf(spec.Pos(), "check the regular expression (Go RE2 syntax)", "%s: subject %q: %v", Name, s, err)}
			}
			ru.re = append(ru.re, c)
			continue
		}
		ru.exact[s] = true
	}
	for _, f := range cfg.Fingerprints {
		n := strings.ToLower(strings.ReplaceAll(f, ":", ""))
		if b, err := hex.DecodeString(n); err != nil || len(b) != sha256.Size {
			return nil, config.ErrorList{config.Errorf(spec.Pos(), "write the SHA-256 fingerprint as 64 hex digits (openssl x509 -noout -fingerprint -sha256)",
				"%s: fingerprint %q is not a SHA-256 fingerprint", Name, f)}
		}
		ru.prints[n] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !ru.allows(r) {
				// RFC 9110 §15.5.4: understood, not allowed. The TLS
				// handshake already happened, so there is no TLS alert
				// left to send; a 403 says what the client lacks.
				middleware.Refuse(w, r, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// allows reports whether r came with a certificate the listener verified
// (a chain to its client_auth CA) that passes the lists.
func (ru *rules) allows(r *http.Request) bool {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	leaf := r.TLS.PeerCertificates[0]
	if len(ru.exact) > 0 || len(ru.re) > 0 {
		subj := leaf.Subject.String()
		ok := ru.exact[subj]
		for _, re := range ru.re {
			ok = ok || re.MatchString(subj)
		}
		if !ok {
			return false
		}
	}
	if len(ru.prints) > 0 {
		sum := sha256.Sum256(leaf.Raw)
		if !ru.prints[hex.EncodeToString(sum[:])] {
			return false
		}
	}
	return true
}
