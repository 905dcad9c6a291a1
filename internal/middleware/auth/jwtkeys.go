package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// minRSABits is the smallest RSA modulus accepted, from a file or a JWKS
// (RFC 7518 section 3.3 requires 2048).
const minRSABits = 2048

// newKeySource builds the one key source of cfg and the algorithms it
// allows, after checking an explicit allow-list against it.
func newKeySource(cfg JWTConfig, env middleware.Env) (keySource, []string, string, error) {
	n := 0
	for _, set := range []bool{cfg.Secret != "", cfg.PublicKeyFile != "", cfg.JWKSURL != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, nil, `e.g. secret: "${JWT_SECRET}", or jwks_url: https://idp.example.com/.well-known/jwks.json`,
			fmt.Errorf("exactly one of secret, public_key_file or jwks_url must be set, found %d", n)
	}
	if cfg.JWKSURL == "" && (cfg.JWKSRefreshInterval != 0 || cfg.JWKSMinRefreshInterval != 0 || cfg.JWKSTimeout != 0) {
		return nil, nil, "", errors.New("jwks_refresh_interval, jwks_min_refresh_interval and jwks_timeout need jwks_url")
	}
	switch {
	case cfg.Secret != "":
		// RFC 7518 section 3.2: the key is at least as long as the hash.
		var possible []string
		for _, alg := range hmacAlgs {
			if len(cfg.Secret)*8 >= jwt.GetSigningMethod(alg).(*jwt.SigningMethodHMAC).Hash.Size()*8 {
				possible = append(possible, alg)
			}
		}
		if len(possible) == 0 {
			return nil, nil, "generate one with: openssl rand -base64 48",
				fmt.Errorf("secret: %d bytes is too short; HS256 needs at least 32 (RFC 7518 section 3.2)", len(cfg.Secret))
		}
		algs, err := pickAlgorithms(cfg.Algorithms, possible, "a secret (HS256 needs 32 bytes, HS384 48, HS512 64)")
		if err != nil {
			return nil, nil, "", err
		}
		return secretSource([]byte(cfg.Secret)), algs, "", nil
	case cfg.PublicKeyFile != "":
		key, err := readPublicKey(cfg.PublicKeyFile)
		if err != nil {
			return nil, nil, "", fmt.Errorf("public_key_file: %w", err)
		}
		var possible []string
		for _, alg := range asymAlgs {
			if keyFits(alg, key) {
				possible = append(possible, alg)
			}
		}
		algs, err := pickAlgorithms(cfg.Algorithms, possible, fmt.Sprintf("this %s key", keyKind(key)))
		if err != nil {
			return nil, nil, "", err
		}
		return staticSource{key: key}, algs, "", nil
	default:
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, nil, "", fmt.Errorf("jwks_url: %q is not an http(s) URL", cfg.JWKSURL)
		}
		algs, err := pickAlgorithms(cfg.Algorithms, asymAlgs, "keys from a JWKS (symmetric keys are never taken from a JWKS)")
		if err != nil {
			return nil, nil, "", err
		}
		settings := jwksSettings{
			url:        cfg.JWKSURL,
			refresh:    orDefault(cfg.JWKSRefreshInterval.D(), defaultJWKSRefresh),
			minRefresh: orDefault(cfg.JWKSMinRefreshInterval.D(), defaultJWKSMinRefresh),
			timeout:    orDefault(cfg.JWKSTimeout.D(), defaultJWKSTimeout),
		}
		if settings.refresh < 0 || settings.minRefresh < 0 || settings.timeout < 0 {
			return nil, nil, "", errors.New("jwks durations must not be negative")
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			env.Logger.Warn("auth: jwks_url uses plain http: anyone on the path can substitute signing keys; use https",
				"jwks_url", cfg.JWKSURL)
		}
		v, err := env.Shared(settings.key(), func() (any, error) { return newJWKSCache(settings, env.Now, env.Logger), nil })
		if err != nil {
			return nil, nil, "", fmt.Errorf("jwks cache: %w", err)
		}
		cache, ok := v.(*jwksCache)
		if !ok {
			return nil, nil, "", fmt.Errorf("jwks cache: shared state holds %T", v)
		}
		if !env.DryRun {
			cache.warm() // validate and explain fetch nothing
		}
		return cache, algs, "", nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pickAlgorithms returns the explicit list checked against possible, or
// possible when no list was given.
func pickAlgorithms(list, possible []string, source string) ([]string, error) {
	if len(list) == 0 {
		return slices.Clone(possible), nil
	}
	return checkAlgorithms(list, possible, source)
}

// keyFits reports whether key may verify alg: the key type of the
// algorithm's family and, for ECDSA, the curve it names (RFC 7518 section
// 3.4), for RSA the minimum size. This is the algorithm-confusion guard
// for keys: a public key is never used as an HMAC secret.
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return slices.Contains(rsaAlgs, alg) && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
		return false
	case ed25519.PublicKey:
		return alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	case []byte:
		return slices.Contains(hmacAlgs, alg)
	}
	return false
}

func keyKind(key any) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", key)
}

// readPublicKey reads the first PEM block of path: a PKIX public key, a
// PKCS#1 RSA public key or a certificate; RSA under 2048 bits is refused.
func readPublicKey(path string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key (a private key must never be given to the proxy)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d are required", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return key, nil
}

// secretSource is the HMAC secret; the parser's allow-list holds only HS
// algorithms with it.
type secretSource []byte

func (s secretSource) keys(_ context.Context, _, alg string) ([]jwt.VerificationKey, error) {
	if !keyFits(alg, []byte(s)) {
		return nil, fmt.Errorf("%w: %s", errUnknownKey, alg)
	}
	return []jwt.VerificationKey{[]byte(s)}, nil
}

// staticSource is one public key from a file; kid is ignored.
type staticSource struct{ key any }

func (s staticSource) keys(_ context.Context, _, alg string) ([]jwt.VerificationKey, error) {
	if !keyFits(alg, s.key) {
		return nil, fmt.Errorf("%w: %s", errUnknownKey, alg)
	}
	return []jwt.VerificationKey{s.key}, nil
}
