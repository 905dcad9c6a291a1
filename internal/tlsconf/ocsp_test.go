package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// ocspResponder is an OCSP responder (RFC 6960) on 127.0.0.1 signing with
// ca. status is the HTTP status it answers; 200 means a signed Good
// response valid for a day.
type ocspResponder struct {
	srv      *httptest.Server
	requests atomic.Int32
	serials  chan string // serial numbers asked for, decimal
}

func newOCSPResponder(t *testing.T, ca *certs.CA, status int) *ocspResponder {
	t.Helper()
	r := &ocspResponder{serials: make(chan string, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<16))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		oreq, err := ocsp.ParseRequest(body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case r.serials <- oreq.SerialNumber.String():
		default:
		}
		now := time.Now()
		resp, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
			Status:       ocsp.Good,
			SerialNumber: oreq.SerialNumber,
			ThisUpdate:   now.Add(-time.Minute),
			NextUpdate:   now.Add(24 * time.Hour),
		}, ca.Key)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// writeOCSPPair issues an ECDSA P-256 leaf for dnsName naming responder as
// its OCSP server and writes the chain (leaf, CA: stapling needs the
// issuer, see staple) and key into dir. It returns the files and the leaf.
// It signs the leaf itself: only this test needs the OCSP server
// extension, so certs.Spec has no field for it.
func writeOCSPPair(t *testing.T, ca *certs.CA, dir, dnsName, responder string) (certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: dnsName},
		DNSNames: []string{dnsName}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		OCSPServer: []string{responder},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = certs.WriteFiles(t, dir, "ocsp", tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key})
	return certFile, keyFile, leaf
}

// stapleSeen handshakes with cfg (which verifies the chain) and returns the
// OCSP response the server stapled, nil when none. crypto/tls clients
// always send status_request (RFC 6066 section 8).
func stapleSeen(t *testing.T, addr string, cfg *tls.Config) ([]byte, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || string(b) != "ok\n" {
		return nil, errors.Join(errors.New("server closed without accepting"), err)
	}
	return c.ConnectionState().OCSPResponse, nil
}

// A file certificate with an OCSP responder is stapled by the background
// goroutine: a verifying client gets a Good response signed by the issuer
// for its serial, fetched once (not every poll). A failing responder only
// means no staple: handshakes succeed from the start, Close does not hang.
func TestOCSPStapling(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		wantStaple bool
	}{
		{"good", http.StatusOK, true},
		{"responder 500", http.StatusInternalServerError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ca := certs.NewCA(t, "ocsp")
			resp := newOCSPResponder(t, ca, tt.status)
			certFile, keyFile, leaf := writeOCSPPair(t, ca, dir, "ocsp.test", resp.srv.URL)
			s, err := New(config.ListenerTLS{Cert: certFile, Key: keyFile}, Options{
				Logger:       slog.New(slog.DiscardHandler),
				PollInterval: 10 * time.Millisecond,
				OCSPClient:   resp.srv.Client(),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			closed := false
			t.Cleanup(func() {
				if !closed {
					s.Close()
				}
			})
			addr := serveTLS(t, s.TLSConfig())
			client := &tls.Config{ServerName: "ocsp.test", RootCAs: ca.Pool}

			var staple []byte
			deadline := time.Now().Add(5 * time.Second)
			for {
				// Every handshake must succeed, stapled or not.
				staple, err = stapleSeen(t, addr, client)
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				if tt.wantStaple && len(staple) > 0 {
					break
				}
				if !tt.wantStaple && resp.requests.Load() > 0 && !s.ocspBusy.Load() {
					// The responder was asked and the stapler is done:
					// this handshake saw the final state.
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no staple after 5s (%d responder requests)", resp.requests.Load())
				}
			}

			if !tt.wantStaple {
				if len(staple) != 0 {
					t.Fatalf("stapled %d bytes from a failing responder", len(staple))
				}
			} else {
				parsed, err := ocsp.ParseResponse(staple, ca.Cert)
				if err != nil {
					t.Fatalf("staple does not parse/verify against the CA: %v", err)
				}
				if parsed.Status != ocsp.Good {
					t.Errorf("status %d, want Good", parsed.Status)
				}
				if parsed.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
					t.Errorf("staple for serial %s, leaf is %s", parsed.SerialNumber, leaf.SerialNumber)
				}
				if got := <-resp.serials; got != leaf.SerialNumber.String() {
					t.Errorf("responder asked for serial %s, leaf is %s", got, leaf.SerialNumber)
				}
			}
			// Success refreshes half way through the validity, failure
			// after ocspRetry: either way one request, not one per poll.
			if n := resp.requests.Load(); n != 1 {
				t.Errorf("responder got %d requests, want 1", n)
			}

			closed = true // a blocked Close must not also block Cleanup
			done := make(chan struct{})
			go func() {
				s.Close()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Close blocked")
			}
		})
	}
}
