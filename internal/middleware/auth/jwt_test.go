package auth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

const testSecret = "0123456789abcdef0123456789abcdef" // 32 bytes: HS256 only

// sign makes a token; kid is set when non-empty.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// claimsAt returns standard valid claims at testNow, with extra merged in
// (a nil value deletes a claim).
func claimsAt(extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "user-42",
		"iss": "https://idp.test",
		"aud": []string{"api", "other"},
		"exp": testNow.Add(time.Hour).Unix(),
		"nbf": testNow.Add(-time.Minute).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// unsigned builds "header.payload." with alg none by hand.
func unsigned(claims jwt.MapClaims) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// writePEM writes key's PKIX PEM into a temp file and returns its path and
// bytes.
func writePEM(t testing.TB, pub any) (string, []byte) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestJWTSecret(t *testing.T) {
	t.Parallel()
	h, be := build(t, map[string]any{"jwt": map[string]any{
		"secret":            testSecret,
		"issuer":            "https://idp.test",
		"audience":          []string{"api"},
		"leeway":            "30s",
		"claims_to_headers": map[string]string{"sub": "X-User-Id", "realm_access.roles": "X-Roles"},
		"required_claims":   map[string]any{"scope": "read"},
	}}, testEnv(newClock().Now))
	hs := func(extra jwt.MapClaims) string {
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claimsAt(extra))
	}
	scoped := jwt.MapClaims{"scope": "read write", "realm_access": map[string]any{"roles": []string{"a", "b"}}}
	with := func(extra jwt.MapClaims) jwt.MapClaims {
		out := jwt.MapClaims{}
		for k, v := range scoped {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name      string
		hdr       []string
		status    int
		challenge string
	}{
		{"valid", []string{"Authorization", "Bearer " + hs(scoped)}, 200, ""},
		{"scheme case-insensitive", []string{"Authorization", "bearer " + hs(scoped)}, 200, ""},
		{"expired within leeway", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"exp": testNow.Add(-20 * time.Second).Unix()}))}, 200, ""},
		{"nbf within leeway", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"nbf": testNow.Add(20 * time.Second).Unix()}))}, 200, ""},
		{"no credentials", nil, 401, `Bearer realm="api"`},
		{"basic instead", []string{"Authorization", basicHeader("a", "b")}, 401, `Bearer realm="api"`},
		{"Bearer without token", []string{"Authorization", "Bearer"}, 400, `Bearer realm="api", error="invalid_request"`},
		{"Bearer and spaces", []string{"Authorization", "Bearer    "}, 400, `Bearer realm="api", error="invalid_request"`},
		{"token with space", []string{"Authorization", "Bearer a b"}, 400, `Bearer realm="api", error="invalid_request"`},
		{"huge token", []string{"Authorization", "Bearer " + strings.Repeat("a", maxToken+1)}, 400, `Bearer realm="api", error="invalid_request"`},
		{"two Authorization fields", []string{"Authorization", "Bearer " + hs(scoped), "Authorization", "Bearer x"}, 400, `Bearer realm="api", error="invalid_request"`},
		{"garbage", []string{"Authorization", "Bearer abc.def.ghi"}, 401, `Bearer realm="api", error="invalid_token"`},
		{"not a JWT", []string{"Authorization", "Bearer deadbeef"}, 401, `Bearer realm="api", error="invalid_token"`},
		{"alg none", []string{"Authorization", "Bearer " + unsigned(claimsAt(scoped))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"wrong secret", []string{"Authorization", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), "", claimsAt(scoped))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"HS512 not allowed for a 32-byte secret", []string{"Authorization", "Bearer " + sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", claimsAt(scoped))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"expired", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"exp": testNow.Add(-time.Minute).Unix()}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"no exp", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"exp": nil}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"nbf beyond leeway", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"nbf": testNow.Add(time.Minute).Unix()}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"wrong issuer", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"iss": "https://evil.test"}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"wrong audience", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"aud": "billing"}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"no audience", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"aud": nil}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"CRLF in a mapped claim", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"sub": "u\r\nX-Admin: 1"}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"NUL in a mapped list", []string{"Authorization", "Bearer " + hs(with(jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"a\x00"}}}))}, 401, `Bearer realm="api", error="invalid_token"`},
		{"crit header", []string{"Authorization", "Bearer " + func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(scoped))
			tok.Header["crit"] = []string{"exp"}
			s, _ := tok.SignedString([]byte(testSecret))
			return s
		}()}, 401, `Bearer realm="api", error="invalid_token"`},
		{"missing scope", []string{"Authorization", "Bearer " + hs(jwt.MapClaims{"scope": "write readx"})}, 403, `Bearer realm="api", error="insufficient_scope"`},
		{"no scope claim", []string{"Authorization", "Bearer " + hs(nil)}, 403, `Bearer realm="api", error="insufficient_scope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Calls()
			rec := do(h, "/", append(tc.hdr, "X-User-Id", "forged", "X-Roles", "admin")...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				if be.Calls() != before {
					t.Fatal("a refused request reached the backend")
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
				}
				return
			}
			r, id := be.Last()
			if id == nil || id.Method != MethodJWT || id.Name != "user-42" || id.Claims["iss"] != "https://idp.test" {
				t.Fatalf("identity %+v", id)
			}
			if got := r.Header.Values("X-User-Id"); len(got) != 1 || got[0] != "user-42" {
				t.Errorf("X-User-Id %q, want [user-42]", got)
			}
			if got := r.Header.Values("X-Roles"); len(got) != 1 || got[0] != "a,b" {
				t.Errorf("X-Roles %q, want [a,b]", got)
			}
			if r.Header.Get("Authorization") != "" {
				t.Error("token reached the backend")
			}
		})
	}
}

// TestJWTClaimHeaderRemovedWhenAbsent: a header mapped from a claim the
// token lacks is still removed from the client's request.
func TestJWTClaimHeaderRemovedWhenAbsent(t *testing.T) {
	t.Parallel()
	h, be := build(t, map[string]any{"jwt": map[string]any{
		"secret": testSecret, "claims_to_headers": map[string]string{"email": "X-Email"},
	}}, testEnv(newClock().Now))
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claimsAt(nil))
	if rec := do(h, "/", "Authorization", "Bearer "+tok, "X-Email", "ceo@example.com"); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if r, _ := be.Last(); r.Header.Get("X-Email") != "" {
		t.Errorf("forged X-Email reached the backend")
	}
}

func TestJWTPublicKeyFile(t *testing.T) {
	t.Parallel()
	rsaPath, rsaPEM := writePEM(t, &rsaKeyA().PublicKey)
	ecPath, _ := writePEM(t, &ecKey().PublicKey)
	edPath, _ := writePEM(t, edKey().Public())
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKeyA().PublicKey)
	c := claimsAt(nil)
	tests := []struct {
		name   string
		path   string
		token  string
		status int
	}{
		{"RS256", rsaPath, sign(t, jwt.SigningMethodRS256, rsaKeyA(), "", c), 200},
		{"PS384", rsaPath, sign(t, jwt.SigningMethodPS384, rsaKeyA(), "", c), 200},
		{"RS256 other key", rsaPath, sign(t, jwt.SigningMethodRS256, rsaKeyB(), "", c), 401},
		{"alg confusion: HS256 with the PEM as secret", rsaPath, sign(t, jwt.SigningMethodHS256, rsaPEM, "", c), 401},
		{"alg confusion: HS256 with the DER as secret", rsaPath, sign(t, jwt.SigningMethodHS256, rsaDER, "", c), 401},
		{"alg none", rsaPath, unsigned(c), 401},
		{"ES256", ecPath, sign(t, jwt.SigningMethodES256, ecKey(), "", c), 200},
		{"ES256 key, RS256 token", ecPath, sign(t, jwt.SigningMethodRS256, rsaKeyA(), "", c), 401},
		{"EdDSA", edPath, sign(t, jwt.SigningMethodEdDSA, edKey(), "", c), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, be := build(t, map[string]any{"jwt": map[string]any{"public_key_file": tc.path}}, testEnv(newClock().Now))
			rec := do(h, "/", "Authorization", "Bearer "+tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if want := 0; tc.status != 200 && be.Calls() != want {
				t.Fatal("a refused request reached the backend")
			}
		})
	}
}

func TestJWTConfigErrors(t *testing.T) {
	t.Parallel()
	rsaPath, _ := writePEM(t, &rsaKeyA().PublicKey)
	tests := []struct {
		name string
		jwt  map[string]any
		want string
	}{
		{"no source", map[string]any{"issuer": "x"}, "exactly one of secret"},
		{"two sources", map[string]any{"secret": testSecret, "jwks_url": "https://idp/jwks"}, "exactly one of secret"},
		{"short secret", map[string]any{"secret": "short"}, "too short"},
		{"secret with RS256", map[string]any{"secret": testSecret, "algorithms": []string{"RS256"}}, "algorithm confusion"},
		{"HS512 with a 32-byte secret", map[string]any{"secret": testSecret, "algorithms": []string{"HS512"}}, "HS512"},
		{"public key with HS256", map[string]any{"public_key_file": rsaPath, "algorithms": []string{"HS256"}}, "algorithm confusion"},
		{"RSA key with ES256", map[string]any{"public_key_file": rsaPath, "algorithms": []string{"ES256"}}, "ES256"},
		{"jwks with HS256", map[string]any{"jwks_url": "https://idp/jwks", "algorithms": []string{"HS256"}}, "algorithm confusion"},
		{"none", map[string]any{"secret": testSecret, "algorithms": []string{"none"}}, "never accepted"},
		{"missing key file", map[string]any{"public_key_file": "/nonexistent/key.pem"}, "public_key_file"},
		{"bad jwks url", map[string]any{"jwks_url": "ftp://idp/jwks"}, "jwks_url"},
		{"jwks settings without url", map[string]any{"secret": testSecret, "jwks_timeout": "1s"}, "need jwks_url"},
		{"claim to Authorization", map[string]any{"secret": testSecret, "claims_to_headers": map[string]string{"sub": "Authorization"}}, "Authorization"},
		{"claim to Host", map[string]any{"secret": testSecret, "claims_to_headers": map[string]string{"sub": "Host"}}, "Host"},
		{"negative leeway", map[string]any{"secret": testSecret, "leeway": "-1s"}, "leeway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(config.NewMiddlewareSpec(Name, map[string]any{"jwt": tc.jwt}), testEnv(newClock().Now))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestJWTPrivateKeyFileRefused(t *testing.T) {
	t.Parallel()
	der, err := x509.MarshalPKCS8PrivateKey(ecKey())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "priv.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(config.NewMiddlewareSpec(Name, map[string]any{"jwt": map[string]any{"public_key_file": path}}), testEnv(newClock().Now))
	if err == nil || !strings.Contains(err.Error(), "not a public key") {
		t.Fatalf("error %v", err)
	}
}
