package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func bcryptHash(t testing.TB, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestBasic(t *testing.T) {
	t.Parallel()
	// "$2y$" is what htpasswd -B prints; Go's bcrypt reads it too.
	aliceHash := strings.Replace(bcryptHash(t, "wonderland"), "$2a$", "$2y$", 1)
	h, be := build(t, map[string]any{"basic": map[string]any{
		"realm": "admin",
		"users": map[string]string{"alice": aliceHash, "bob": bcryptHash(t, "pa:ss wörd")},
	}}, testEnv(newClock().Now))

	tests := []struct {
		name   string
		hdr    []string
		status int
		user   string
	}{
		{"valid", []string{"Authorization", basicHeader("alice", "wonderland")}, 200, "alice"},
		{"valid again (cached)", []string{"Authorization", basicHeader("alice", "wonderland")}, 200, "alice"},
		{"colon and UTF-8 in password", []string{"Authorization", basicHeader("bob", "pa:ss wörd")}, 200, "bob"},
		{"scheme case-insensitive", []string{"Authorization", "bAsIc " + base64.StdEncoding.EncodeToString([]byte("alice:wonderland"))}, 200, "alice"},
		{"unpadded base64", []string{"Authorization", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("alice:wonderland"))}, 200, "alice"},
		{"wrong password", []string{"Authorization", basicHeader("alice", "wrong")}, 401, ""},
		{"unknown user", []string{"Authorization", basicHeader("mallory", "wonderland")}, 401, ""},
		{"user name case matters", []string{"Authorization", basicHeader("Alice", "wonderland")}, 401, ""},
		{"no credentials", nil, 401, ""},
		{"bearer instead", []string{"Authorization", "Bearer abc"}, 401, ""},
		{"scheme prefix only", []string{"Authorization", "Basicx " + base64.StdEncoding.EncodeToString([]byte("alice:wonderland"))}, 401, ""},
		{"bad base64", []string{"Authorization", "Basic !!!notbase64"}, 401, ""},
		{"no colon", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alicewonderland"))}, 401, ""},
		{"empty user", []string{"Authorization", basicHeader("", "wonderland")}, 401, ""},
		{"control char", []string{"Authorization", basicHeader("alice", "wonder\nland")}, 401, ""},
		{"Basic alone", []string{"Authorization", "Basic"}, 401, ""},
		{"huge", []string{"Authorization", "Basic " + strings.Repeat("QUFB", 4000)}, 401, ""},
		{"two Authorization fields", []string{"Authorization", basicHeader("alice", "wonderland"), "Authorization", basicHeader("bob", "x")}, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Calls()
			rec := do(h, "/x", tc.hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				if be.Calls() != before {
					t.Fatal("a refused request reached the backend")
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="admin", charset="UTF-8"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("refusal without Cache-Control: no-store")
				}
				return
			}
			r, id := be.Last()
			if id == nil || id.Method != MethodBasic || id.Name != tc.user {
				t.Fatalf("identity %+v, want basic/%s", id, tc.user)
			}
			if r.Header.Get("Authorization") != "" {
				t.Error("credentials reached the backend")
			}
		})
	}
}

func TestBasicPassCredentialsAndIdentityHeader(t *testing.T) {
	t.Parallel()
	h, be := build(t, map[string]any{
		"basic":            map[string]any{"users": map[string]string{"alice": bcryptHash(t, "pw")}},
		"pass_credentials": true,
		"identity_header":  "X-Auth-User",
	}, testEnv(newClock().Now))
	rec := do(h, "/", "Authorization", basicHeader("alice", "pw"), "X-Auth-User", "root")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	r, _ := be.Last()
	if r.Header.Get("Authorization") == "" {
		t.Error("pass_credentials: Authorization removed")
	}
	if got := r.Header.Values("X-Auth-User"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("X-Auth-User %q, want [alice] (the client's forged value removed)", got)
	}
}

// TestBasicUnknownUserCostsBcrypt: the comparison hash for unknown users
// has the cost of the configured hashes, so both paths cost the same.
func TestBasicUnknownUserCostsBcrypt(t *testing.T) {
	t.Parallel()
	h5, err := bcrypt.GenerateFromPassword([]byte("x"), 5)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := newBasic(BasicConfig{Users: map[string]string{"a": bcryptHash(t, "y"), "b": string(h5)}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(a.(*basic).dummy); err != nil || c != 5 {
		t.Fatalf("dummy hash cost %d (%v), want 5", c, err)
	}
}

func TestBasicConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"plain password", map[string]any{"basic": map[string]any{"users": map[string]string{"alice": "secret"}}}, "htpasswd -nbB"},
		{"no users", map[string]any{"basic": map[string]any{"realm": "x"}}, "at least one user"},
		{"colon in user", map[string]any{"basic": map[string]any{"users": map[string]string{"a:b": "$2y$10$abcdefghijklmnopqrstuu5Q3R3xQH8b6hQYk3P2J1Q3r5m6sXyz."}}}, "without ':'"},
		{"quote in realm", map[string]any{"basic": map[string]any{"realm": `a"b`, "users": map[string]string{"a": "x"}}}, "realm"},
		{"no method", map[string]any{"pass_credentials": true}, "exactly one of"},
		{"two methods", map[string]any{"basic": map[string]any{}, "api_key": map[string]any{}}, "exactly one of"},
		{"unknown key", map[string]any{"basic": map[string]any{"userz": map[string]string{}}}, "userz"},
		{"bad identity header", map[string]any{"basic": map[string]any{"users": map[string]string{"alice": bcryptHash(t, "pw")}}, "identity_header": "Content-Length"}, "identity_header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(config.NewMiddlewareSpec(Name, tc.settings), testEnv(newClock().Now))
			if err == nil {
				t.Fatal("no error")
			}
			var list config.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not a config.ErrorList", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseBasic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		creds      string
		user, pass string
		ok         bool
	}{
		{base64.StdEncoding.EncodeToString([]byte("u:p")), "u", "p", true},
		{base64.StdEncoding.EncodeToString([]byte("u:")), "u", "", true},
		{base64.StdEncoding.EncodeToString([]byte("u:a:b")), "u", "a:b", true},
		{"", "", "", false},
		{"====", "", "", false},
		{base64.StdEncoding.EncodeToString([]byte(":p")), "", "", false},
		{base64.StdEncoding.EncodeToString([]byte("u\x00:p")), "", "", false},
		{"dTpw=", "", "", false}, // wrong padding
	}
	for _, tc := range tests {
		t.Run(tc.creds, func(t *testing.T) {
			u, p, err := parseBasic(tc.creds)
			if (err == nil) != tc.ok || u != tc.user || p != tc.pass {
				t.Fatalf("parseBasic(%q) = %q, %q, %v", tc.creds, u, p, err)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestRefusalBodyHasNoDetail(t *testing.T) {
	t.Parallel()
	h, _ := build(t, map[string]any{"basic": map[string]any{"users": map[string]string{"alice": bcryptHash(t, "pw")}}}, testEnv(newClock().Now))
	rec := do(h, "/", "Authorization", "Basic %%%")
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != "401 Unauthorized\n" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}
