package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/listen"
	"github.com/gatehouse-proxy/gatehouse/internal/runtime"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// The HTTPS variant adds one TLS listener using the internal CA in the
// given directory, and the banner says where the root is.
func TestConfigHTTPSContents(t *testing.T) {
	h := HTTPS{Address: "127.0.0.1:8443", CADir: "/home/u/.config/gatehouse/ca"}
	doc := decodeDemo(t, ConfigHTTPS(fakeBackends(), "127.0.0.1:8080", h))
	if len(doc.Listeners) != 2 || doc.Listeners[1].Address != h.Address || doc.Listeners[1].TLS == nil ||
		doc.Listeners[1].TLS.Internal.Dir != h.CADir {
		t.Fatalf("listeners = %+v", doc.Listeners)
	}
	if doc.Listeners[0].TLS != nil {
		t.Error("the plain listener got tls")
	}
	b := BannerHTTPS("127.0.0.1:8080", h)
	for _, want := range []string{"https://localhost:8443/", "https://demo.localhost:8443/", h.CADir + "/root.crt", "http://127.0.0.1:8080/app/", "Press Ctrl-C to stop.\n"} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	if BannerHTTPS("127.0.0.1:8080", HTTPS{}) != Banner("127.0.0.1:8080") {
		t.Error("BannerHTTPS without HTTPS differs from Banner")
	}
}

// The demo's HTTPS listener serves its routes with a certificate for
// localhost that verifies against the internal CA's root, over HTTP/2.
func TestDemoServesHTTPS(t *testing.T) {
	caDir := t.TempDir() + "/ca"
	root, err := tlsconf.EnsureCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(ConfigHTTPS(fakeBackends(), "127.0.0.1:0", HTTPS{Address: "127.0.0.1:0", CADir: caDir}), "demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	rt, err := runtime.Build(cfg, nil, runtime.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	m := listen.NewManager(runtime.NewHolder(rt), logger)
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
		rt.Close()
	})
	var addr net.Addr
	for k, a := range m.Addrs() {
		if strings.HasSuffix(k, "|demo-https") {
			addr = a
		}
	}
	if addr == nil {
		t.Fatalf("no demo-https listener in %v", m.Addrs())
	}
	pem, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok\n" || resp.ProtoMajor != 2 {
		t.Errorf("got %s %d %q", resp.Proto, resp.StatusCode, body)
	}
}
