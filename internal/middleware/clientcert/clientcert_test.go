package clientcert

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

func TestClientCert(t *testing.T) {
	ca := certs.NewCA(t, "Test CA")
	aliceTLS := ca.Leaf(t, certs.Spec{CN: "alice", Org: "Test", Client: true})
	bobTLS := ca.Leaf(t, certs.Spec{CN: "bob", Org: "Test", Client: true})
	strangerTLS := certs.NewCA(t, "Other CA").Leaf(t, certs.Spec{CN: "alice", Org: "Test", Client: true}) // same name, not from the CA
	sum := sha256.Sum256(aliceTLS.Leaf.Raw)
	aliceFP := hex.EncodeToString(sum[:])

	for _, tc := range []struct {
		name   string
		cfg    map[string]any
		client *tls.Certificate
		want   int
	}{
		{"no certificate", nil, nil, http.StatusForbidden},
		{"verified", nil, &aliceTLS, http.StatusOK},
		{"subject listed", map[string]any{"subjects": []any{"CN=alice,O=Test"}}, &aliceTLS, http.StatusOK},
		{"subject not listed", map[string]any{"subjects": []any{"CN=alice,O=Test"}}, &bobTLS, http.StatusForbidden},
		{"subject regex", map[string]any{"subjects": []any{"~^CN=(alice|bob),"}}, &bobTLS, http.StatusOK},
		{"fingerprint pinned", map[string]any{"fingerprints": []any{aliceFP}}, &aliceTLS, http.StatusOK},
		{"fingerprint other", map[string]any{"fingerprints": []any{aliceFP}}, &bobTLS, http.StatusForbidden},
		// Another CA's certificate with the same name: Go's client does not
		// even offer it (it matches none of the listener's CAs), and one
		// that arrived unverified would not pass either.
		{"same subject, other CA", map[string]any{"subjects": []any{"CN=alice,O=Test"}}, &strangerTLS, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mw, err := New(config.NewMiddlewareSpec(Name, tc.cfg), middleware.Env{})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool}
			srv.StartTLS()
			defer srv.Close()
			tr := srv.Client().Transport.(*http.Transport).Clone()
			if tc.client != nil {
				tr.TLSClientConfig.Certificates = []tls.Certificate{*tc.client}
			}
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	t.Run("bad settings", func(t *testing.T) {
		for _, cfg := range []map[string]any{{"subjects": []any{"~("}}, {"fingerprints": []any{"abc"}}} {
			if _, err := New(config.NewMiddlewareSpec(Name, cfg), middleware.Env{}); err == nil {
				t.Errorf("%v accepted", cfg)
			}
		}
	})
}
