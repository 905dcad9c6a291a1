package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func keyHash(k string) string {
	s := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	h, be := build(t, map[string]any{"api_key": map[string]any{
		"header": "X-Api-Key",
		"query":  "api_key",
		"keys":   map[string]string{"ci-bot": keyHash("k-ci"), "ops": "sha256:" + strings.ToUpper(strings.TrimPrefix(keyHash("k-ops"), "sha256:"))},
	}}, testEnv(newClock().Now))

	tests := []struct {
		name      string
		target    string
		hdr       []string
		status    int
		key       string
		wantQuery string
	}{
		{"header", "/p?a=1", []string{"X-Api-Key", "k-ci"}, 200, "ci-bot", "a=1"},
		{"upper-case hex in config", "/p", []string{"X-Api-Key", "k-ops"}, 200, "ops", ""},
		{"query", "/p?a=1&api_key=k-ops&b=%2F", nil, 200, "ops", "a=1&b=%2F"},
		{"query percent-encoded", "/p?api%5Fkey=k%2Dci", nil, 200, "ci-bot", ""},
		{"header wins over query", "/p?api_key=bad", []string{"X-Api-Key", "k-ci"}, 200, "ci-bot", ""},
		{"unknown key", "/p", []string{"X-Api-Key", "k-nope"}, 401, "", ""},
		{"unknown in query", "/p?api_key=nope", nil, 401, "", ""},
		{"no key", "/p", nil, 401, "", ""},
		{"empty header", "/p", []string{"X-Api-Key", ""}, 400, "", ""},
		{"two headers", "/p", []string{"X-Api-Key", "k-ci", "X-Api-Key", "k-ops"}, 400, "", ""},
		{"two query params", "/p?api_key=k-ci&api_key=k-ops", nil, 400, "", ""},
		{"bad escape", "/p?api_key=%zz", nil, 400, "", ""},
		{"control char", "/p?api_key=k-ci%0d%0aX:1", nil, 400, "", ""},
		{"huge", "/p", []string{"X-Api-Key", strings.Repeat("k", 2000)}, 400, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Calls()
			rec := do(h, tc.target, tc.hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				if be.Calls() != before {
					t.Fatal("a refused request reached the backend")
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != `ApiKey realm="api"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				return
			}
			r, id := be.Last()
			if id == nil || id.Method != MethodAPIKey || id.Name != tc.key {
				t.Fatalf("identity %+v, want api_key/%s", id, tc.key)
			}
			if r.Header.Get("X-Api-Key") != "" {
				t.Error("key header reached the backend")
			}
			if r.URL.RawQuery != tc.wantQuery {
				t.Errorf("query upstream %q, want %q", r.URL.RawQuery, tc.wantQuery)
			}
			if strings.Contains(r.RequestURI, "api_key") || strings.Contains(r.RequestURI, "api%5Fkey") {
				t.Errorf("RequestURI %q still holds the key", r.RequestURI)
			}
		})
	}
}

func TestAPIKeyDefaultsToHeader(t *testing.T) {
	t.Parallel()
	h, _ := build(t, map[string]any{"api_key": map[string]any{"keys": map[string]string{"a": keyHash("s3")}}}, testEnv(newClock().Now))
	if rec := do(h, "/", "X-Api-Key", "s3"); rec.Code != 200 {
		t.Fatalf("default header: status %d", rec.Code)
	}
	if rec := do(h, "/?api_key=s3"); rec.Code != 401 {
		t.Fatalf("query without query setting: status %d", rec.Code)
	}
}

func TestAPIKeyConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys map[string]string
		more map[string]any
		want string
	}{
		{"plain key", map[string]string{"a": "my-secret-key"}, nil, "sha256sum"},
		{"short hex", map[string]string{"a": "sha256:abcd"}, nil, "64 hex digits"},
		{"bad hex", map[string]string{"a": "sha256:" + strings.Repeat("zz", 32)}, nil, "64 hex digits"},
		{"duplicate", map[string]string{"a": keyHash("x"), "b": keyHash("x")}, nil, "same key"},
		{"no keys", map[string]string{}, nil, "at least one key"},
		{"bad header", map[string]string{"a": keyHash("x")}, map[string]any{"header": "Transfer-Encoding"}, "header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := map[string]any{"keys": tc.keys}
			for k, v := range tc.more {
				s[k] = v
			}
			_, err := New(config.NewMiddlewareSpec(Name, map[string]any{"api_key": s}), testEnv(newClock().Now))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRemoveQueryParam(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, out string }{
		{"api_key=1", ""},
		{"a=1&api_key=1", "a=1"},
		{"api_key=1&a=%20&b", "a=%20&b"},
		{"a=1&api%5Fkey=2&api_key=3&c=4", "a=1&c=4"},
		{"a=%zz&api_key", "a=%zz"},
		{"a=1", "a=1"},
	}
	for _, tc := range tests {
		got, _ := removeQueryParam(tc.in, "api_key")
		if got != tc.out {
			t.Errorf("removeQueryParam(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
}
