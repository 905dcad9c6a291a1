package listen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// serverFiles writes a server certificate with common name cn for dns
// names, signed by ca, into dir.
func serverFiles(t *testing.T, ca *certs.CA, dir, cn string, dns ...string) config.CertificateFiles {
	t.Helper()
	cert, key := certs.WriteFiles(t, dir, cn, ca.Leaf(t, certs.Spec{CN: cn, Names: dns}))
	return config.CertificateFiles{Cert: cert, Key: key}
}

// tlsManager serves h on one TLS listener with tlsCfg and returns the
// manager, the config (for reloads) and the address.
func tlsManager(t *testing.T, h http.Handler, tlsCfg config.ListenerTLS) (*Manager, *config.Config, string) {
	t.Helper()
	m := NewManager(h, slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	cfg := &config.Config{
		Listeners: []config.Listener{{Name: "tls", Address: "127.0.0.1:0", TLS: &tlsCfg}},
		Routes:    []config.Route{{Respond: &config.Respond{Body: "ok"}}},
	}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	return m, cfg, m.Addrs()["127.0.0.1:0|tls"].String()
}

// get requests https://addr/ with SNI sni over HTTP/1.1 or HTTP/2.
func getTLS(t *testing.T, addr, sni string, h2 bool, c *tls.Config) (*http.Response, string) {
	t.Helper()
	c = c.Clone()
	c.ServerName = sni
	var protos http.Protocols
	protos.SetHTTP1(!h2)
	protos.SetHTTP2(h2)
	tr := &http.Transport{TLSClientConfig: c, Protocols: &protos}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A TLS listener chooses among three certificates by SNI (exact, wildcard,
// default), and a reload that names other files serves them on the same
// socket; a reload with a broken file is refused and the old ones stay.
func TestTLSListenerSNIAndReload(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "ca")
	def := serverFiles(t, ca, dir, "default", "default.test")
	exact := serverFiles(t, ca, dir, "exact", "api.example.com")
	wild := serverFiles(t, ca, dir, "wild", "*.example.com")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	m, cfg, addr := tlsManager(t, h, config.ListenerTLS{Cert: def.Cert, Key: def.Key, Certificates: []config.CertificateFiles{exact, wild}})
	client := &tls.Config{RootCAs: ca.Pool}
	tests := []struct{ sni, want string }{
		{"api.example.com", "exact"},
		{"www.example.com", "wild"},
		{"default.test", "default"},
	}
	for _, tt := range tests {
		for _, h2 := range []bool{false, true} {
			resp, _ := getTLS(t, addr, tt.sni, h2, client)
			if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != tt.want {
				t.Errorf("%s (h2 %v): served %q, want %q", tt.sni, h2, cn, tt.want)
			}
		}
	}

	next := *cfg
	next.Listeners = []config.Listener{cfg.Listeners[0]}
	replaced := serverFiles(t, ca, dir, "replaced", "api.example.com")
	next.Listeners[0].TLS = &config.ListenerTLS{Cert: replaced.Cert, Key: replaced.Key}
	if err := m.Apply(&next); err != nil {
		t.Fatal(err)
	}
	if resp, _ := getTLS(t, addr, "api.example.com", false, client); resp.TLS.PeerCertificates[0].Subject.CommonName != "replaced" {
		t.Error("reload did not change the certificate")
	}
	broken := next
	broken.Listeners = []config.Listener{cfg.Listeners[0]}
	broken.Listeners[0].TLS = &config.ListenerTLS{Cert: replaced.Cert, Key: exact.Key}
	err := m.Apply(&broken)
	if err == nil || !strings.Contains(err.Error(), exact.Key) {
		t.Fatalf("Apply with a mismatched key: %v, want an error naming %s", err, exact.Key)
	}
	if resp, _ := getTLS(t, addr, "api.example.com", false, client); resp.TLS.PeerCertificates[0].Subject.CommonName != "replaced" {
		t.Error("a refused reload changed the certificate")
	}
}

// tls.hsts adds Strict-Transport-Security on HTTP/1.1 and HTTP/2.
func TestTLSListenerHSTS(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "ca")
	f := serverFiles(t, ca, dir, "site", "site.test")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	_, _, addr := tlsManager(t, h, config.ListenerTLS{Cert: f.Cert, Key: f.Key,
		HSTS: &config.HSTS{MaxAge: config.Duration(time.Hour), IncludeSubdomains: true}})
	for _, h2 := range []bool{false, true} {
		resp, _ := getTLS(t, addr, "site.test", h2, &tls.Config{RootCAs: ca.Pool})
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=3600; includeSubDomains" {
			t.Errorf("h2 %v: Strict-Transport-Security = %q", h2, got)
		}
	}
	_, _, plainAddr := tlsManager(t, h, config.ListenerTLS{Cert: f.Cert, Key: f.Key})
	if resp, _ := getTLS(t, plainAddr, "site.test", false, &tls.Config{RootCAs: ca.Pool}); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent without tls.hsts")
	}
}

// mTLS with verify_if_given: the handler sees the client certificate
// through the {tls.client.*} placeholders, on HTTP/1.1 and HTTP/2; a
// client without one is served with empty values; a required certificate
// refuses clients without one.
func TestTLSListenerClientCertPlaceholders(t *testing.T) {
	dir := t.TempDir()
	ca := certs.NewCA(t, "ca")
	clients := certs.NewCA(t, "clients")
	f := serverFiles(t, ca, dir, "site", "site.test")
	tmpl := placeholder.MustCompile("{tls.client.subject}|{tls.client.serial}")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tmpl.Render(r)) })
	alice := clients.Leaf(t, certs.Spec{CN: "alice", Client: true})
	aliceSerial := alice.Certificate[0]
	leaf, _ := x509.ParseCertificate(aliceSerial)
	want := "CN=alice|" + leaf.SerialNumber.Text(16)

	_, _, addr := tlsManager(t, h, config.ListenerTLS{Cert: f.Cert, Key: f.Key,
		ClientAuth: &config.ClientAuth{Mode: "verify_if_given", CA: clients.File}})
	for _, h2 := range []bool{false, true} {
		if _, body := getTLS(t, addr, "site.test", h2, &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{alice}}); body != want {
			t.Errorf("h2 %v with certificate: %q, want %q", h2, body, want)
		}
		if _, body := getTLS(t, addr, "site.test", h2, &tls.Config{RootCAs: ca.Pool}); body != "|" {
			t.Errorf("h2 %v without certificate: %q", h2, body)
		}
	}

	_, _, reqAddr := tlsManager(t, h, config.ListenerTLS{Cert: f.Cert, Key: f.Key,
		ClientAuth: &config.ClientAuth{Mode: "require", CA: clients.File}})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "site.test"}}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + reqAddr + "/"); err == nil {
		resp.Body.Close()
		t.Error("require: a client without a certificate was served")
	}
}
