package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{"", "dTpw", "dTpw=", base64.StdEncoding.EncodeToString([]byte("alice:x:y")), "====", "\x00", strings.Repeat("A", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, creds string) {
		user, pass, err := parseBasic(creds)
		if err != nil {
			return
		}
		if user == "" || strings.ContainsRune(user, ':') || !printable(user) || !printable(pass) {
			t.Fatalf("accepted user %q pass %q", user, pass)
		}
		// Round trip: the canonical encoding parses to the same pair.
		u2, p2, err := parseBasic(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
		if err != nil || u2 != user || p2 != pass {
			t.Fatalf("round trip of %q:%q gave %q:%q, %v", user, pass, u2, p2, err)
		}
	})
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"", "abc.def.ghi", "a b", "a==", "==", "a=b", "a\r\n", strings.Repeat("x", maxToken+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, creds string) {
		tok, err := parseBearer(creds)
		if err != nil {
			return
		}
		if tok != creds || tok == "" || len(tok) > maxToken || strings.ContainsAny(tok, " \t\r\n\x00") || tok[0] == '=' {
			t.Fatalf("accepted %q", tok)
		}
	})
}

func FuzzQueryParam(f *testing.F) {
	for _, s := range []string{"", "api_key=1", "a=1&api_key=2&b", "api%5Fkey=%zz", "api_key=%zz&api_key", "&&&", "a=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, _ = queryValues(raw, "api_key")
		out, removed := removeQueryParam(raw, "api_key")
		if !removed && out != raw {
			t.Fatalf("nothing removed but %q became %q", raw, out)
		}
		if vs, err := queryValues(out, "api_key"); err != nil || len(vs) != 0 {
			t.Fatalf("after removal %q still holds %q (%v)", out, vs, err)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	rsaDoc, _ := json.Marshal(map[string]any{"keys": []any{jwkJSON("r", &rsaKeyA().PublicKey), jwkJSON("e", &ecKey().PublicKey), jwkJSON("d", edKey().Public())}})
	for _, s := range [][]byte{rsaDoc, []byte(`{"keys":[]}`), []byte(`{"keys":[{"kty":"oct","k":"AA"}]}`), []byte(`null`), []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, _, err := parseJWKS(doc)
		if err != nil {
			return
		}
		for _, k := range keys {
			fitsOne := false
			for _, alg := range asymAlgs {
				fitsOne = fitsOne || k.fits(alg)
			}
			if !fitsOne {
				t.Fatalf("key %q of type %T fits no algorithm", k.kid, k.key)
			}
			for _, alg := range hmacAlgs {
				if k.fits(alg) {
					t.Fatalf("key %q from a JWKS verifies %s", k.kid, alg)
				}
			}
		}
	})
}

// FuzzJWTAuthorization sends arbitrary Authorization values through the
// jwt middleware: never a panic, never a 2xx, never the backend.
func FuzzJWTAuthorization(f *testing.F) {
	valid := sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", claimsAt(nil))
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer " + unsigned(claimsAt(nil)), "Bearer a.b.c", "Basic dTpw",
		"Bearer " + valid[:len(valid)-2], "Bearer " + strings.Replace(valid, ".", "..", 1)} {
		f.Add(s)
	}
	h, be := build(f, map[string]any{"jwt": map[string]any{"secret": testSecret}}, testEnv(newClock().Now))
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Authorization"] = []string{value}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 && rec.Code != 401 {
			t.Fatalf("Authorization %q: status %d", value, rec.Code)
		}
		if be.Calls() != 0 {
			t.Fatalf("Authorization %q reached the backend", value)
		}
	})
}

func FuzzRenderClaim(f *testing.F) {
	for _, s := range []string{`"a"`, `1e400`, `[1,"a",true]`, `{"a":"\r\n"}`, `"\u0000"`, `["a\nb"]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		if s, ok := renderClaim(v); ok && !safeHeaderValue(s) {
			t.Fatalf("unsafe value accepted: %q", s)
		}
	})
}
