package admin

import (
	"net/http"
	"strings"
	"testing"
)

func TestNewRejectsIncompleteOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted empty options")
	}
}

func TestToken(t *testing.T) {
	f := newFixture(t, minimalConfig, "s3cret")
	cases := []struct {
		name   string
		auth   string
		status int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "Bearer nope", http.StatusUnauthorized},
		{"prefix of the token", "Bearer s3cre", http.StatusUnauthorized},
		{"other scheme", "Basic czNjcmV0", http.StatusUnauthorized},
		{"right", "Bearer s3cret", http.StatusOK},
		{"scheme case-insensitive", "bearer s3cret", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			st, body, h := f.do(t, http.MethodGet, "/status", "", hdr...)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			if st == http.StatusUnauthorized {
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(body, `"error"`) {
					t.Fatalf("401 without challenge or JSON error: %q %s", h.Get("WWW-Authenticate"), body)
				}
				if strings.Contains(body, "s3cret") {
					t.Fatal("token leaked in the answer")
				}
			}
		})
	}

	t.Run("SetToken rotates", func(t *testing.T) {
		f.handler.SetToken("new")
		if st, _, _ := f.do(t, http.MethodGet, "/status", "", "Authorization", "Bearer s3cret"); st != http.StatusUnauthorized {
			t.Fatalf("old token still accepted: %d", st)
		}
		if st, _, _ := f.do(t, http.MethodGet, "/status", "", "Authorization", "Bearer new"); st != http.StatusOK {
			t.Fatalf("new token refused: %d", st)
		}
		f.handler.SetToken("")
		if st, _, _ := f.do(t, http.MethodGet, "/status", ""); st != http.StatusOK {
			t.Fatalf("no token configured, still refused: %d", st)
		}
	})
}

func TestRouting(t *testing.T) {
	f := newFixture(t, minimalConfig, "")
	cases := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound, ""},
		{"GET reload", http.MethodGet, "/reload", http.StatusMethodNotAllowed, "POST"},
		{"POST status", http.MethodPost, "/status", http.StatusMethodNotAllowed, "GET"},
		{"GET purge", http.MethodGet, "/cache/purge", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body, h := f.do(t, tc.method, tc.path, "")
			if st != tc.status || h.Get("Allow") != tc.allow || h.Get("Content-Type") != "application/json" {
				t.Fatalf("%d Allow=%q CT=%q %s", st, h.Get("Allow"), h.Get("Content-Type"), body)
			}
		})
	}
}
