package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/pebble"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// acmeTimeout bounds obtaining one certificate from pebble (no validation
// sleep; the order itself takes well under a second).
const acmeTimeout = 60 * time.Second

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// pebbleRoots is a pool with pebble's issuing root: what a browser trusting
// that CA would accept.
func pebbleRoots(t *testing.T, p *pebble.Pebble) *x509.CertPool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	root, err := p.IssuingRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool
}

// httpsGet sends GET https://name/ to addr with SNI name, verifying the
// certificate against roots. It returns the body and the leaf.
func httpsGet(addr, name string, roots *x509.CertPool) (string, *x509.Certificate, error) {
	tr := &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	res, err := c.Get("https://" + name + "/")
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", nil, err
	}
	return string(b), res.TLS.PeerCertificates[0], nil
}

// waitHTTPS polls until addr serves name with a certificate roots accept.
func waitHTTPS(t *testing.T, addr, name string, roots *x509.CertPool) (string, *x509.Certificate) {
	t.Helper()
	var body string
	var leaf *x509.Certificate
	var last error
	if !waitUntil(acmeTimeout, func() bool {
		body, leaf, last = httpsGet(addr, name, roots)
		return last == nil
	}) {
		t.Fatalf("%s never served a valid certificate for %s: %v", addr, name, last)
	}
	return body, leaf
}

func acmeConfig(plainAddr, tlsAddr string, p *pebble.Pebble, acmeBody, extra string) string {
	return acmeConfigRedirect(plainAddr, tlsAddr, "off", p, acmeBody, extra)
}

func acmeConfigRedirect(plainAddr, tlsAddr, redirect string, p *pebble.Pebble, acmeBody, extra string) string {
	return fmt.Sprintf(`
listeners:
  - name: plain
    address: %q
  - name: secure
    address: %q
    tls:
      redirect_http: %q
      acme:
        email: ops@example.test
        ca: %q
        ca_root: %q
%s
routes:
  - respond: { status: 200, body: "hello over acme" }
%s`, plainAddr, tlsAddr, redirect, p.DirectoryURL(), p.CARootFile(), acmeBody, extra)
}

// ACME end to end with the real binary against pebble: a certificate
// obtained over HTTP-01 (the challenge answered on Gatehouse's own plain
// listener, before routing) is served; on-demand issuance happens for a
// name the ask endpoint approves and not for one it refuses.
func TestACMEObtainAndOnDemand(t *testing.T) {
	plainAddr, tlsAddr := closedPort(t), closedPort(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: portOf(t, plainAddr), TLSPort: portOf(t, tlsAddr)})
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("domain") == "yes.example.test" {
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(ask.Close)
	storage := filepath.Join(t.TempDir(), "acme")
	redirectAddr := closedPort(t)
	gw := start(t, acmeConfigRedirect(plainAddr, tlsAddr, redirectAddr, p, fmt.Sprintf(`        domains: [ site.example.test ]
        challenges: [ http-01 ]
        http_port: %d
        storage: %q
        on_demand: { ask: %q }`, portOf(t, plainAddr), storage, ask.URL), ""))
	roots := pebbleRoots(t, p)

	body, leaf := waitHTTPS(t, tlsAddr, "site.example.test", roots)
	if body != "hello over acme" || !strings.Contains(strings.Join(leaf.DNSNames, ","), "site.example.test") {
		t.Fatalf("served %q with names %v", body, leaf.DNSNames)
	}
	if n := p.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}

	t.Run("redirect_http", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+redirectAddr+"/cart?item=1", strings.NewReader("x"))
		req.Host = "site.example.test"
		res, err := newClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := fmt.Sprintf("https://site.example.test:%d/cart?item=1", portOf(t, tlsAddr))
		if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
			t.Fatalf("redirect listener: %d Location %q, want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
		}
	})

	t.Run("on-demand approved", func(t *testing.T) {
		_, leaf := waitHTTPS(t, tlsAddr, "yes.example.test", roots)
		if leaf.DNSNames[0] != "yes.example.test" {
			t.Fatalf("on-demand certificate names %v", leaf.DNSNames)
		}
	})
	t.Run("on-demand refused", func(t *testing.T) {
		before := p.Orders()
		if _, _, err := httpsGet(tlsAddr, "no.example.test", roots); err == nil {
			t.Fatalf("a name the ask endpoint refused got a trusted certificate")
		}
		if p.Orders() != before {
			t.Fatalf("a refused name caused an order (%d → %d)", before, p.Orders())
		}
	})
	_ = gw
}

// Cluster ACME: two Gatehouse processes share one real redis-server. The
// certificate is ordered once, by A, while pebble can reach only B's plain
// listener: B answers A's challenge from the shared storage. B then serves
// the same certificate without a second order.
func TestACMEClusterSharesCertificates(t *testing.T) {
	rs := redisserver.Start(t)
	plainA, tlsA, plainB, tlsB := closedPort(t), closedPort(t), closedPort(t), closedPort(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: portOf(t, plainB), TLSPort: 1})
	clusterBlock := fmt.Sprintf(`cluster:
  redis: { address: %q, prefix: "ghtest:" }
`, rs.Addr())
	acme := func(domains string) string {
		return fmt.Sprintf(`        domains: [ %s ]
        challenges: [ http-01 ]
        http_port: %d`, domains, portOf(t, plainB))
	}
	b := start(t, acmeConfig(plainB, tlsB, p, acme(""), clusterBlock))
	a := start(t, acmeConfig(plainA, tlsA, p, acme("shared.example.test"), clusterBlock))
	roots := pebbleRoots(t, p)

	_, leafA := waitHTTPS(t, tlsA, "shared.example.test", roots)
	if n := p.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	b.RewriteOK(acmeConfig(plainB, tlsB, p, acme("shared.example.test"), clusterBlock), true)
	_, leafB := waitHTTPS(t, tlsB, "shared.example.test", roots)
	if leafA.SerialNumber.Cmp(leafB.SerialNumber) != 0 {
		t.Fatalf("the instances serve different certificates (serials %v, %v)", leafA.SerialNumber, leafB.SerialNumber)
	}
	if n := p.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders after B took the name over, want still 1", n)
	}
	_ = a
}

// Quick mode's automatic HTTPS in one line: --acme EMAIL --domain NAME
// obtains the certificate (HTTP-01 answered on the --redirect-http
// listener, which redirects everything else) and proxies over HTTPS.
func TestQuickModeACME(t *testing.T) {
	// Quick mode keeps certificates in the data directory under the
	// user's config directory: point it at a temporary one.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	tlsAddr, httpAddr := closedPort(t), closedPort(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: portOf(t, httpAddr), TLSPort: portOf(t, tlsAddr)})
	backend := newRecorder(t, "app")
	startArgs(t, "proxy", "--from", tlsAddr, "--to", backend.Addr(),
		"--acme", "ops@example.test", "--domain", "quick.example.test",
		"--acme-ca", p.DirectoryURL(), "--acme-ca-root", p.CARootFile(), "--redirect-http", httpAddr)
	body, _ := waitHTTPS(t, tlsAddr, "quick.example.test", pebbleRoots(t, p))
	if body != "app /" {
		t.Fatalf("proxied body %q, want the backend's", body)
	}
	status, _, hdr := get(t, newClient(t), "http://"+httpAddr+"/x", "quick.example.test")
	if want := fmt.Sprintf("https://quick.example.test:%d/x", portOf(t, tlsAddr)); status != http.StatusPermanentRedirect || hdr.Get("Location") != want {
		t.Fatalf("plain HTTP: %d %q, want 308 to %s", status, hdr.Get("Location"), want)
	}
}
