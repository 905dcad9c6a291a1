package acme

import (
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/pebble"
)

func TestObtain(t *testing.T) {
	tests := []struct {
		name       string
		challenges []string
		wantHTTP   bool // the HTTP-01 handler was asked
	}{
		{"http-01", []string{ChallengeHTTP01}, true},
		{"tls-alpn-01", []string{ChallengeTLSALPN01}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			httpL, tlsL := listen(t), listen(t)
			p := pebble.Start(t, pebble.Options{HTTPPort: port(httpL), TLSPort: port(tlsL)})
			domain := "www.obtain.test"
			m, err := New(config.ACME{
				Email: "ops@obtain.test", CA: p.DirectoryURL(), CARoot: p.CARootFile(),
				Domains: []string{domain}, Challenges: tc.challenges,
				HTTPPort: port(httpL), TLSALPNPort: port(tlsL), Storage: t.TempDir(),
			}, Options{})
			counter := &challengeCounter{h: m.HTTPChallenge(http.NotFoundHandler())}
			serveHTTP(t, httpL, counter)
			serveTLS(t, tlsL, m.GetCertificate)
			startManager(t, m, err)

			cert := waitCert(t, tlsL.Addr().String(), domain, issuingRoots(t, p), nil)
			if err := cert.VerifyHostname(domain); err != nil {
				t.Fatal(err)
			}
			if got := counter.hits.Load() > 0; got != tc.wantHTTP {
				t.Fatalf("HTTP-01 handler asked: %v, want %v", got, tc.wantHTTP)
			}
			if p.Orders() != 1 {
				t.Fatalf("pebble orders = %d, want 1", p.Orders())
			}
			// A name the manager does not manage: nothing, so the caller
			// may try its other sources.
			if c, err := m.GetCertificate(helloFor(t, "other.obtain.test")); c != nil || err != nil {
				t.Fatalf("unmanaged name: %v, %v; want nil, nil", c, err)
			}
		})
	}
}

func TestRenew(t *testing.T) {
	httpL, tlsL := listen(t), listen(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: port(httpL), TLSPort: port(tlsL), Validity: 8 * time.Second})
	domain := "renew.test"
	m, err := New(config.ACME{
		CA: p.DirectoryURL(), CARoot: p.CARootFile(), Domains: []string{domain},
		Challenges: []string{ChallengeHTTP01}, HTTPPort: port(httpL), Storage: t.TempDir(),
		RenewWindowRatio: 0.5,
	}, Options{RenewCheckInterval: 500 * time.Millisecond})
	serveHTTP(t, httpL, m.HTTPChallenge(http.NotFoundHandler()))
	serveTLS(t, tlsL, m.GetCertificate)
	startManager(t, m, err)

	roots := issuingRoots(t, p)
	first := waitCert(t, tlsL.Addr().String(), domain, roots, nil)
	if life := first.NotAfter.Sub(first.NotBefore); life > time.Minute {
		t.Fatalf("pebble issued a %v certificate, want the short validity", life)
	}
	renewed := waitCert(t, tlsL.Addr().String(), domain, roots, func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed certificate expires %v, not after %v", renewed.NotAfter, first.NotAfter)
	}
}

// TestRenewOnDemand: a certificate obtained on demand is renewed too (at a
// later handshake, as certmagic renews on-demand certificates), never
// served past its expiry.
func TestRenewOnDemand(t *testing.T) {
	tlsL := listen(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: 1, TLSPort: port(tlsL), Validity: 8 * time.Second})
	m, err := New(config.ACME{
		CA: p.DirectoryURL(), CARoot: p.CARootFile(), Challenges: []string{ChallengeTLSALPN01},
		TLSALPNPort: port(tlsL), Storage: t.TempDir(), RenewWindowRatio: 0.5,
		OnDemand: &config.OnDemand{Allow: []string{"*.allowed.test"}, Rate: "100/1m"},
	}, Options{RenewCheckInterval: 500 * time.Millisecond})
	serveTLS(t, tlsL, m.GetCertificate)
	startManager(t, m, err)
	roots := issuingRoots(t, p)
	const name = "x.allowed.test"
	first := waitCert(t, tlsL.Addr().String(), name, roots, nil)
	renewed := waitCert(t, tlsL.Addr().String(), name, roots, func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed on-demand certificate expires %v, not after %v", renewed.NotAfter, first.NotAfter)
	}
}
