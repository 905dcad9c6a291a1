package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/quic-go/quic-go/http3"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// HTTP/3 on a TLS listener with tls.http3: the same response over QUIC as
// over HTTP/2, and Alt-Svc advertising it on the TCP side.
func TestHTTP3(t *testing.T) {
	certFile, keyFile, pool := certs.SelfSigned(t)
	inst := start(t, `
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: "`+certFile+`", key: "`+keyFile+`", http3: true }
routes:
  - respond: { status: 203, body: "same everywhere" }
`)
	_, port, _ := net.SplitHostPort(inst.Addr)
	url := "https://" + inst.Addr + "/x"

	type result struct {
		proto, body string
		status      int
		hdr         http.Header
	}
	do := func(t *testing.T, rt http.RoundTripper) result {
		t.Helper()
		resp, err := (&http.Client{Transport: rt, Timeout: clientTimeout}).Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return result{resp.Proto, string(b), resp.StatusCode, resp.Header}
	}

	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer h2.CloseIdleConnections()
	h3 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer h3.Close()

	over2 := do(t, h2)
	over3 := do(t, h3)
	if over2.proto != "HTTP/2.0" || over3.proto != "HTTP/3.0" {
		t.Fatalf("protocols %q and %q, want HTTP/2.0 and HTTP/3.0", over2.proto, over3.proto)
	}
	if over3.status != over2.status || over3.body != over2.body || over2.status != 203 || over2.body != "same everywhere" {
		t.Errorf("HTTP/3 %d %q vs HTTP/2 %d %q", over3.status, over3.body, over2.status, over2.body)
	}
	if want := `h3=":` + port + `"; ma=86400`; over2.hdr.Get("Alt-Svc") != want {
		t.Errorf("Alt-Svc on HTTP/2: %q, want %q", over2.hdr.Get("Alt-Svc"), want)
	}
	if id := over3.hdr.Get("X-Request-Id"); id == "" {
		t.Error("no request ID on the HTTP/3 response: not served by the runtime?")
	}
	// quic-go's UDP buffer finding goes to the structured log, never to
	// stderr as a bare line.
	for _, l := range inst.Stderr.Lines() {
		if parseEntry(l).str("msg") == "" {
			t.Errorf("unstructured stderr line: %s", l)
		}
	}
	inst.Stop()
}
