package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func benchServe(b *testing.B, h http.Handler, name, value string) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		req.Header.Set(name, value)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkJWTHS256(b *testing.B) {
	h, _ := build(b, map[string]any{"jwt": map[string]any{"secret": testSecret, "claims_to_headers": map[string]string{"sub": "X-User-Id"}}}, testEnv(newClock().Now))
	benchServe(b, h, "Authorization", "Bearer "+sign(b, jwt.SigningMethodHS256, []byte(testSecret), "", claimsAt(nil)))
}

func BenchmarkAPIKey(b *testing.B) {
	keys := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		keys[k] = keyHash("key-" + k)
	}
	h, _ := build(b, map[string]any{"api_key": map[string]any{"keys": keys}}, testEnv(newClock().Now))
	benchServe(b, h, "X-Api-Key", "key-h")
}

// BenchmarkBasicCached is a client that sends the same valid credentials on
// every request: one bcrypt compare, then the verified cache.
func BenchmarkBasicCached(b *testing.B) {
	h, _ := build(b, map[string]any{"basic": map[string]any{"users": map[string]string{"alice": bcryptHash(b, "pw")}}}, testEnv(newClock().Now))
	benchServe(b, h, "Authorization", basicHeader("alice", "pw"))
}
