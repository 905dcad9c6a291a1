package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// ErrBadJWKS is wrapped by parseJWKS errors for a document that is not a
// usable JWK Set.
var ErrBadJWKS = errors.New("invalid JWK set")

// jwk is one usable signing key of a JWK Set.
type jwk struct {
	kid string
	alg string // "" when the JWK does not restrict it
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits reports whether the key may verify a token with alg.
func (k jwk) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	return keyFits(alg, k.key)
}

// rawJWK holds the members of a JWK (RFC 7517 section 4, RFC 7518 section
// 6) that Gatehouse reads.
type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS reads a JWK Set (RFC 7517 section 5). Keys Gatehouse cannot or
// must not use are skipped and counted: symmetric ("oct") keys, keys for
// encryption ("use": "enc", or key_ops without "verify"), unknown types or
// curves, RSA under 2048 bits, points not on their curve, an "alg" that
// does not fit the key. An error (wrapping ErrBadJWKS) when the document is
// not a JWK Set or holds no usable key.
func parseJWKS(data []byte) (keys []jwk, skipped int, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadJWKS, err)
	}
	for _, raw := range doc.Keys {
		var r rawJWK
		if json.Unmarshal(raw, &r) != nil {
			skipped++
			continue
		}
		k, ok := r.key()
		if !ok {
			skipped++
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("%w: no usable signing key (%d skipped)", ErrBadJWKS, skipped)
	}
	return keys, skipped, nil
}

func (r rawJWK) key() (jwk, bool) {
	if r.Use != "" && r.Use != "sig" {
		return jwk{}, false
	}
	if len(r.KeyOps) > 0 && !slices.Contains(r.KeyOps, "verify") {
		return jwk{}, false
	}
	var key any
	switch r.Kty {
	case "RSA":
		n, ok1 := b64uint(r.N)
		e, ok2 := b64uint(r.E)
		if !ok1 || !ok2 || n.BitLen() < minRSABits || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return jwk{}, false
		}
		key = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		var size int
		switch r.Crv {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		case "P-521":
			curve, size = elliptic.P521(), 66
		default:
			return jwk{}, false
		}
		x, err1 := base64.RawURLEncoding.Strict().DecodeString(r.X)
		y, err2 := base64.RawURLEncoding.Strict().DecodeString(r.Y)
		// RFC 7518 section 6.2.1.2: coordinates are the full octet length
		// of the curve's field.
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return jwk{}, false
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point) // checks the point is on the curve
		if err != nil {
			return jwk{}, false
		}
		key = pub
	case "OKP":
		// RFC 8037 section 2; Ed448 is not supported.
		x, err := base64.RawURLEncoding.Strict().DecodeString(r.X)
		if r.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return jwk{}, false
		}
		key = ed25519.PublicKey(x)
	default:
		// "oct" included: a shared secret published in a key set would
		// let anyone sign.
		return jwk{}, false
	}
	k := jwk{kid: r.Kid, alg: r.Alg, key: key}
	if k.alg != "" && !keyFits(k.alg, key) {
		return jwk{}, false
	}
	return k, true
}

// b64uint decodes a base64url unsigned big-endian integer (RFC 7518
// section 2, Base64urlUInt).
func b64uint(s string) (*big.Int, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > 1024 {
		return nil, false
	}
	return new(big.Int).SetBytes(b), true
}
