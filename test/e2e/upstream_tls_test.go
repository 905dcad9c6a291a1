package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// tlsBackend is an HTTPS backend answering "PROTO SNI CLIENT-CN".
func tlsBackend(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s %s %s", r.Proto, r.TLS.ServerName, cn)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCAs != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCAs
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestUpstreamTLS: https:// targets are verified against the configured
// CA (HTTP/2 by ALPN, SNI = the target's name), a backend with a
// certificate from another CA gets 502 with no Go error text, a backend
// that requires a client certificate gets ours, and insecure_skip_verify
// works but is logged as a warning.
func TestUpstreamTLS(t *testing.T) {
	ca := certs.NewCA(t, "gatehouse e2e CA")
	other := certs.NewCA(t, "gatehouse e2e other CA")
	backendNames := certs.Spec{Names: []string{"localhost", "127.0.0.1"}}
	serverCert := ca.Leaf(t, backendNames)
	foreignCert := other.Leaf(t, backendNames)
	clientCert, clientKey := certs.WriteFiles(t, t.TempDir(), "client", ca.Leaf(t, certs.Spec{CN: "gatehouse", Client: true}))

	good := tlsBackend(t, serverCert, nil)
	wrong := tlsBackend(t, foreignCert, nil)
	mtls := tlsBackend(t, serverCert, ca.Pool)
	_, goodPort, _ := net.SplitHostPort(good)

	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - { match: { path: /good }, upstream: good }
  - { match: { path: /wrong }, upstream: wrong }
  - { match: { path: /mtls }, upstream: mtls }
  - { match: { path: /mtls-nocert }, upstream: mtls_nocert }
  - { match: { path: /insecure }, upstream: insecure }
upstreams:
  good:
    targets: [ "https://localhost:%[1]s" ]
    tls: { ca: %[2]q }
  wrong:
    targets: [ "https://%[3]s" ]
    tls: { ca: %[2]q }
  mtls:
    targets: [ "https://%[4]s" ]
    tls: { ca: %[2]q, cert: %[5]q, key: %[6]q }
  mtls_nocert:
    targets: [ "https://%[4]s" ]
    tls: { ca: %[2]q }
  insecure:
    targets: [ "https://%[3]s" ]
    tls: { insecure_skip_verify: true }
`, goodPort, ca.File, wrong, mtls, clientCert, clientKey))

	c := newClient(t)
	for _, tc := range []struct {
		path    string
		status  int
		body    string // exact, for 200
		backend string // for the leak check of errors
	}{
		{path: "/good", status: 200, body: "HTTP/2.0 localhost -"},
		{path: "/wrong", status: 502, backend: wrong},
		{path: "/mtls", status: 200, body: "HTTP/2.0  gatehouse"},
		{path: "/mtls-nocert", status: 502, backend: mtls},
		{path: "/insecure", status: 200, body: "HTTP/2.0  -"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			status, body, hdr := get(t, c, inst.URL(tc.path), "")
			if status != tc.status {
				t.Fatalf("status %d (%q), want %d", status, body, tc.status)
			}
			if tc.status == 200 {
				if body != tc.body {
					t.Fatalf("backend saw %q, want %q (proto, SNI, client certificate)", body, tc.body)
				}
				return
			}
			assertErrorBody(t, body, hdr, tc.backend)
			for _, leak := range []string{"x509", "certificate", "tls", "handshake", "authority"} {
				if strings.Contains(strings.ToLower(body), leak) {
					t.Errorf("error body %q leaks %q", body, leak)
				}
			}
		})
	}
	w := inst.WaitLog(0, "upstream TLS certificate verification is disabled (insecure_skip_verify); anyone on the path can impersonate the backend")
	if w.str("upstream") != "insecure" {
		t.Errorf("insecure warning names upstream %q", w.str("upstream"))
	}
}
