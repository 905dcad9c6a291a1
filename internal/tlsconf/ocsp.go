package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP stapling (RFC 6066 section 8, RFC 6960). certmagic v0.25.6 staples
// only the certificates in its own cache (its stapleOCSP is unexported), so
// file certificates are stapled here with the same x/crypto/ocsp calls it
// uses. Fetching happens on the Server's background goroutine only; a
// handshake never waits for a responder, and a failure only means no staple.
const (
	ocspTimeout   = 10 * time.Second
	ocspRetry     = time.Hour // after a failure
	ocspMaxBody   = 1 << 20
	ocspMinWindow = 5 * time.Minute
)

var errNoOCSP = errors.New("certificate has no OCSP responder or issuer")

// staple fetches a fresh OCSP response for fc and, when the status is Good,
// publishes a stapled copy of the certificate. It returns when to fetch
// again.
func staple(ctx context.Context, client *http.Client, fc *fileCert, now time.Time) (time.Time, error) {
	leaf := fc.cert.Leaf
	if len(leaf.OCSPServer) == 0 || len(fc.cert.Certificate) < 2 {
		return time.Time{}, errNoOCSP
	}
	issuer, err := x509.ParseCertificate(fc.cert.Certificate[1])
	if err != nil {
		return now.Add(ocspRetry), err
	}
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		return now.Add(ocspRetry), err
	}
	ctx, cancel := context.WithTimeout(ctx, ocspTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, leaf.OCSPServer[0], bytes.NewReader(req))
	if err != nil {
		return now.Add(ocspRetry), err
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := client.Do(hreq)
	if err != nil {
		return now.Add(ocspRetry), err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return now.Add(ocspRetry), fmt.Errorf("OCSP responder %s: status %d", leaf.OCSPServer[0], resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, ocspMaxBody))
	if err != nil {
		return now.Add(ocspRetry), err
	}
	parsed, err := ocsp.ParseResponseForCert(body, leaf, issuer)
	if err != nil {
		return now.Add(ocspRetry), err
	}
	if parsed.Status != ocsp.Good {
		// A revoked or unknown status is not stapled: serving it would
		// make strict clients refuse, and the operator must act anyway.
		return now.Add(ocspRetry), fmt.Errorf("OCSP status %d for %s", parsed.Status, fc.certFile)
	}
	c := *fc.cert
	c.OCSPStaple = body
	fc.stapled.Store(&c)
	// Refresh half way through the response's validity (as certmagic
	// does), not more often than every few minutes.
	next := now.Add(ocspRetry)
	if !parsed.NextUpdate.IsZero() {
		next = parsed.ThisUpdate.Add(parsed.NextUpdate.Sub(parsed.ThisUpdate) / 2)
	}
	if soon := now.Add(ocspMinWindow); next.Before(soon) {
		next = soon
	}
	return next, nil
}

// ocspClient returns the client stapling uses: the caller's, or one with a
// timeout (never http.DefaultClient: STYLE.md, hidden global defaults).
func ocspClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: ocspTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
}
