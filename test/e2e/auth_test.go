package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// authE2ESecret is the HS256 secret given to gatehouse through ${ENV}.
const authE2ESecret = "e2e-secret-0123456789abcdefghijklmnop"

// TestAuthMethods runs basic, jwt (HS256 secret from the environment) and
// forward auth through the real binary: accepted requests reach the backend
// without their credentials, refused ones never do and get Gatehouse's
// error body with the right challenge.
func TestAuthMethods(t *testing.T) {
	// Not parallel: t.Setenv, inherited by the gatehouse process.
	t.Setenv("GATEHOUSE_E2E_JWT_SECRET", authE2ESecret)
	be := newRecorder(t, "be")
	hash, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	authSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer let-me-in" && r.Header.Get("X-Forwarded-Uri") == "/fwd/x?q=1" {
			w.Header().Set("X-User-Id", "fwd-user")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="sso"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "sso says no")
	}))
	t.Cleanup(authSvc.Close)
	deadSvc := closedPort(t)

	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: true, output: stdout } }
routes:
  - match: { path: /basic/* }
    middleware:
      - auth: { basic: { realm: admin, users: { alice: "%s" } }, identity_header: X-Auth-User }
    upstream: be
  - match: { path: /jwt/* }
    middleware:
      - auth:
          jwt: { secret: "${GATEHOUSE_E2E_JWT_SECRET}", issuer: e2e, audience: [api], claims_to_headers: { sub: X-User-Id } }
    upstream: be
  - match: { path: /fwd/* }
    middleware:
      - auth: { forward: { url: "%s/check", copy_response_headers: [X-User-Id], timeout: 2s } }
    upstream: be
  - match: { path: /dead/* }
    middleware:
      - auth: { forward: { url: "http://%s/check", timeout: 2s } }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, hash, authSvc.URL, deadSvc, be.Addr()))
	c := newClient(t)

	token := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(authE2ESecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	good := token(jwt.MapClaims{"sub": "jwt-user", "iss": "e2e", "aud": "api", "exp": now.Add(time.Hour).Unix()})
	expired := token(jwt.MapClaims{"sub": "jwt-user", "iss": "e2e", "aud": "api", "exp": now.Add(-time.Hour).Unix()})
	wrongIss := token(jwt.MapClaims{"sub": "jwt-user", "iss": "evil", "aud": "api", "exp": now.Add(time.Hour).Unix()})
	crlf := token(jwt.MapClaims{"sub": "a\r\nX-Admin: 1", "iss": "e2e", "aud": "api", "exp": now.Add(time.Hour).Unix()})
	basicCreds := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }

	tests := []struct {
		name       string
		path, auth string
		status     int
		challenge  string
		upstream   map[string]string // headers the backend must see
		logged     string            // "method user" in the access log (200s)
	}{
		{"basic ok", "/basic/x", basicCreds("alice", "wonderland"), 200, "", map[string]string{"X-Auth-User": "alice"}, "basic alice"},
		{"basic wrong password", "/basic/x", basicCreds("alice", "nope"), 401, `Basic realm="admin", charset="UTF-8"`, nil, ""},
		{"basic unknown user", "/basic/x", basicCreds("mallory", "wonderland"), 401, `Basic realm="admin", charset="UTF-8"`, nil, ""},
		{"basic bad base64", "/basic/x", "Basic %%%", 401, `Basic realm="admin", charset="UTF-8"`, nil, ""},
		{"basic none", "/basic/x", "", 401, `Basic realm="admin", charset="UTF-8"`, nil, ""},
		{"jwt ok", "/jwt/x", "Bearer " + good, 200, "", map[string]string{"X-User-Id": "jwt-user"}, "jwt jwt-user"},
		{"jwt expired", "/jwt/x", "Bearer " + expired, 401, `Bearer realm="api", error="invalid_token"`, nil, ""},
		{"jwt wrong issuer", "/jwt/x", "Bearer " + wrongIss, 401, `Bearer realm="api", error="invalid_token"`, nil, ""},
		{"jwt CRLF claim", "/jwt/x", "Bearer " + crlf, 401, `Bearer realm="api", error="invalid_token"`, nil, ""},
		{"jwt no token", "/jwt/x", "Bearer", 400, `Bearer realm="api", error="invalid_request"`, nil, ""},
		{"jwt no credentials", "/jwt/x", "", 401, `Bearer realm="api"`, nil, ""},
		{"forward ok", "/fwd/x?q=1", "Bearer let-me-in", 200, "", map[string]string{"X-User-Id": "fwd-user"}, "forward "},
		{"forward denied", "/fwd/x?q=1", "Bearer nope", 401, `Bearer realm="sso"`, nil, ""},
		{"forward service down", "/dead/x", "Bearer let-me-in", 503, "", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Count()
			hdr := []string{"X-User-Id", "forged", "X-Auth-User", "forged"}
			if tc.auth != "" {
				hdr = append(hdr, "Authorization", tc.auth)
			}
			status, body, rh := get(t, c, inst.URL(tc.path), "auth.test", hdr...)
			if status != tc.status {
				t.Fatalf("status %d, want %d (body %q)", status, tc.status, body)
			}
			if tc.status != 200 {
				if be.Count() != before {
					t.Fatal("a refused request reached the backend")
				}
				if got := rh.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
				}
				switch tc.name {
				case "forward denied":
					if body != "sso says no" {
						t.Errorf("denial body %q, want the auth service's", body)
					}
				case "forward service down":
					assertErrorBody(t, body, rh, deadSvc)
				default:
					assertErrorBody(t, body, rh, be.Addr())
				}
				return
			}
			got := be.Last(t)
			if a := got.Header.Get("Authorization"); a != "" {
				t.Errorf("backend received the credentials %q", a)
			}
			for k, v := range tc.upstream {
				if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
					t.Errorf("backend saw %s = %q, want [%s]", k, vs, v)
				}
			}
			// The access log says who was admitted, and how.
			wantAuth, wantUser, _ := strings.Cut(tc.logged, " ")
			if e := inst.AccessLine(rh.Get("X-Request-Id")); e.str("auth") != wantAuth || e.str("user") != wantUser {
				t.Errorf("access log auth=%q user=%q, want %q %q", e.str("auth"), e.str("user"), wantAuth, wantUser)
			}
		})
	}
}

// TestAuthConfigErrors: a plain password or a short secret is refused by
// validate with a position and a hint.
func TestAuthConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := `listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    middleware:
      - auth: { basic: { users: { alice: "plain-password" } } }
    respond: { status: 200 }
`
	path := dir + "/bad.yaml"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, dir, "validate", "-c", path)
	out := stdout + stderr
	if code == 0 {
		t.Fatalf("validate accepted a plain password:\n%s", out)
	}
	for _, want := range []string{"bad.yaml:5:", "bcrypt", "htpasswd -nbB"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}
