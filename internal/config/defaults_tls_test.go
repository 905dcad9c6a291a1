package config

import (
	"strings"
	"testing"
)

// tls.redirect_http adds the redirecting plain listener: by default for
// ACME listeners at :80 unless a listener already uses port 80.
func TestRedirectListeners(t *testing.T) {
	t.Parallel()
	const acme = `    tls: { acme: { email: ops@example.com, domains: [ example.com ] }%s }
`
	for _, tc := range []struct {
		name      string
		listeners string
		want      string // address of the added listener; "" none
		wantErr   string
	}{
		{"acme default", "  - address: \":443\"\n" + strings.Replace(acme, "%s", "", 1), ":80", ""},
		{"acme with a port-80 listener", "  - address: \":80\"\n  - address: \":443\"\n" + strings.Replace(acme, "%s", "", 1), "", ""},
		{"acme off", "  - address: \":443\"\n" + strings.Replace(acme, "%s", `, redirect_http: "off"`, 1), "", ""},
		{"explicit", "  - address: \":8443\"\n    tls: { cert: c.pem, key: k.pem, redirect_http: \":8080\" }\n", ":8080", ""},
		{"files default off", "  - address: \":8443\"\n    tls: { cert: c.pem, key: k.pem }\n", "", ""},
		{"clash", "  - address: \":8080\"\n  - address: \":8443\"\n    tls: { cert: c.pem, key: k.pem, redirect_http: \":8080\" }\n", "", `redirect_http ":8080" is the address of listener #1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte("listeners:\n"+tc.listeners+"routes: [ { respond: { status: 204 } } ]\n"), "t.yaml")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, l := range c.Listeners {
				if l.RedirectTo != "" {
					got = l.Address
				}
			}
			if got != tc.want {
				t.Fatalf("redirect listener at %q, want %q (listeners %+v)", got, tc.want, c.Listeners)
			}
		})
	}
}
