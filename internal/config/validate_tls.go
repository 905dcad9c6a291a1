package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Checks of a listener's tls section (types_tls.go). Only the shape is
// checked here; whether the files exist and hold a usable certificate is
// checked when the listener loads them (internal/tlsconf), because a file
// may legitimately appear between validation and start.

// Values of the tls section.
var (
	TLSMinVersions      = []string{"1.2", "1.3"}
	ClientAuthModes     = []string{"require", "verify_if_given", "request"}
	ACMEChallenges      = []string{"http-01", "tls-alpn-01"}
	DefaultOnDemandRate = "10/1m"
)

const (
	certHint      = "name the certificate and key files: tls: { cert: /path/cert.pem, key: /path/key.pem }"
	tlsSourceHint = "name files (cert: /path/cert.pem, key: /path/key.pem), or use acme: { email: you@example.com } or internal: {} for local development"
	rateHint      = `write the rate as "COUNT/DURATION", e.g. "10/1m"`
)

func (v *validator) listenerTLS(path, name, address string, t *ListenerTLS) {
	path += ".tls"
	if t.Cert != "" || t.Key != "" {
		if t.Cert == "" {
			v.add(path, "name the certificate file: tls: { cert: /path/cert.pem, key: /path/key.pem }", "listener %q: tls has no cert", name)
		}
		if t.Key == "" {
			v.add(path, "name the key file: tls: { cert: /path/cert.pem, key: /path/key.pem }", "listener %q: tls has no key", name)
		}
	} else if len(t.Certificates) == 0 && t.ACME == nil && t.Internal == nil {
		v.add(path, tlsSourceHint, "listener %q: tls has no certificate source", name)
	}
	for i, c := range t.Certificates {
		p := IndexPath(path+".certificates", i)
		if c.Cert == "" {
			v.add(p, certHint, "listener %q: tls certificate #%d has no cert", name, i+1)
		}
		if c.Key == "" {
			v.add(p, certHint, "listener %q: tls certificate #%d has no key", name, i+1)
		}
	}
	if t.MinVersion != "" && !slices.Contains(TLSMinVersions, t.MinVersion) {
		v.add(path+".min_version", `use "1.2" (default) or "1.3"; TLS 1.0 and 1.1 are deprecated (RFC 8996)`,
			"listener %q: tls min_version %q is not supported", name, t.MinVersion)
	}
	if ca := t.ClientAuth; ca != nil {
		if ca.Mode != "" && !slices.Contains(ClientAuthModes, ca.Mode) {
			v.add(path+".client_auth.mode", suggest(ca.Mode, ClientAuthModes, "valid values"), "unknown client_auth mode %q", ca.Mode)
		} else if ca.CA == "" && ca.Mode != "request" {
			v.add(path+".client_auth", `name the CA bundle client certificates must chain to: client_auth: { ca: /path/clients-ca.pem }`,
				"listener %q: client_auth mode %q needs ca", name, cmp.Or(ca.Mode, "require"))
		}
	}
	if t.HSTS != nil {
		v.nonNegative(path+".hsts.max_age", "tls.hsts.max_age", t.HSTS.MaxAge)
	}
	if r := t.RedirectHTTP; r != "" && r != "off" {
		const hint = `write the plain HTTP address to redirect from, e.g. ":80", or "off"`
		host, port, err := net.SplitHostPort(r)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			v.add(path+".redirect_http", hint, "listener %q: redirect_http %q is not host:port", name, r)
		case perr != nil || n < 1 || n > 65535:
			v.add(path+".redirect_http", hint, "listener %q: redirect_http %q: port must be 1 to 65535", name, r)
		case host != "" && !validHost(host):
			v.add(path+".redirect_http", hint, "listener %q: redirect_http %q: %q is not an IP address or host name", name, r, host)
		case r == address:
			v.add(path+".redirect_http", hint, "listener %q: redirect_http is the listener's own address", name)
		}
	}
	if in := t.Internal; in != nil {
		for i, n := range in.Names {
			if msg, hint := checkHost(n); msg != "" {
				v.add(IndexPath(path+".internal.names", i), hint, "listener %q: internal CA name %q %s", name, n, msg)
			}
		}
	}
	if t.ACME != nil {
		v.acme(path+".acme", name, t.ACME)
	}
}

func (v *validator) acme(path, name string, a *ACME) {
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		v.add(path+".email", "write an address the CA can send expiry notices to, e.g. ops@example.com", "listener %q: acme email %q is not an e-mail address", name, a.Email)
	}
	if a.CA != "" {
		if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
			v.add(path+".ca", `write the CA's directory URL, e.g. "https://acme-v02.api.letsencrypt.org/directory"`,
				"listener %q: acme ca %q is not an https:// URL (RFC 8555 section 6.1 requires HTTPS)", name, a.CA)
		}
	}
	for i, d := range a.Domains {
		p := IndexPath(path+".domains", i)
		switch {
		case strings.HasPrefix(d, "*."):
			v.add(p, "wildcard certificates need the DNS-01 challenge, which Gatehouse does not do; list each name, or use on_demand",
				"listener %q: acme domain %q is a wildcard", name, d)
		case net.ParseIP(d) != nil:
			v.add(p, "ACME CAs issue for DNS names; use a name that resolves to this server", "listener %q: acme domain %q is an IP address", name, d)
		case !validHost(d):
			v.add(p, `write a DNS name, e.g. "www.example.com"`, "listener %q: acme domain %q is not a valid host name", name, d)
		}
	}
	for i, c := range a.Challenges {
		if !slices.Contains(ACMEChallenges, c) {
			v.add(IndexPath(path+".challenges", i), suggest(c, ACMEChallenges, "valid values"), "unknown acme challenge %q", c)
		}
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"http_port", a.HTTPPort}, {"tls_alpn_port", a.TLSALPNPort}} {
		if p.port < 0 || p.port > 65535 {
			v.add(path+"."+p.field, "0 means the default (80 for http-01, 443 for tls-alpn-01)", "listener %q: acme %s %d is not a port", name, p.field, p.port)
		}
	}
	if r := a.RenewWindowRatio; r < 0 || r >= 1 {
		v.add(path+".renew_window_ratio", `the share of a certificate's lifetime left when it is renewed, e.g. 0.33; 0 means the default`,
			"listener %q: acme renew_window_ratio %v is not between 0 and 1", name, r)
	}
	if od := a.OnDemand; od != nil {
		if od.Ask == "" && len(od.Allow) == 0 {
			v.add(path+".on_demand", `add ask: "http://127.0.0.1:9000/allowed" or allow: [ "*.example.com" ]`,
				"listener %q: on_demand needs ask or allow, or any name a client sends would get a certificate", name)
		}
		if od.Ask != "" {
			if u, err := url.Parse(od.Ask); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(path+".on_demand.ask", `write an http(s) URL; Gatehouse calls it with ?domain=NAME and issues on 200`,
					"listener %q: on_demand ask %q is not an http(s) URL", name, od.Ask)
			}
		}
		for i, n := range od.Allow {
			if msg, hint := checkHost(n); msg != "" {
				v.add(IndexPath(path+".on_demand.allow", i), hint, "listener %q: on_demand allow %q %s", name, n, msg)
			}
		}
		if od.Rate != "" {
			if _, _, err := ParseIssuanceRate(od.Rate); err != nil {
				v.add(path+".on_demand.rate", rateHint, "listener %q: on_demand rate %q: %v", name, od.Rate, err)
			}
		}
	}
}

// ParseIssuanceRate parses an on-demand issuance rate "COUNT/DURATION"
// ("10/1m": at most 10 certificates per minute). "" is
// DefaultOnDemandRate. COUNT must be at least 1 and DURATION positive.
func ParseIssuanceRate(s string) (count int, per time.Duration, err error) {
	if s == "" {
		s = DefaultOnDemandRate
	}
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, errors.New("missing \"/\"")
	}
	count, err = strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return 0, 0, fmt.Errorf("count %q is not a positive whole number", n)
	}
	dur, err := ParseDuration(strings.TrimSpace(d))
	if err != nil || dur <= 0 {
		return 0, 0, fmt.Errorf("duration %q is not a positive duration", d)
	}
	return count, dur.D(), nil
}
