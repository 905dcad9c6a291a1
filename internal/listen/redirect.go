package listen

import (
	"net"
	"net/http"
	"strings"
)

// acmeChallengePath is the HTTP-01 challenge prefix (RFC 8555 §8.3). The
// runtime answers it; a redirect listener passes it through so the CA gets
// the token over plain HTTP, as HTTP-01 requires.
const acmeChallengePath = "/.well-known/acme-challenge/"

// redirectHandler serves a plain listener added for a TLS listener's
// tls.redirect_http: ACME challenges go to next (the runtime), everything
// else gets 308 Permanent Redirect to the same host and request target on
// the TLS listener's port (RFC 9110 §15.4.9: 308 keeps the method and
// body). The port is the TLS listener's bound one, looked up per request
// so a listener on port 0 (tests) redirects correctly.
func (m *Manager) redirectHandler(tlsName string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, acmeChallengePath) {
			next.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			// HTTP/1.1 requires Host (RFC 9112 §3.2); without one there is
			// nowhere to send the client.
			http.Error(w, "missing Host header", http.StatusBadRequest)
			return
		}
		port := m.portOf(tlsName)
		target := "https://" + hostForURL(host)
		if port != "" && port != "443" {
			target += ":" + port
		}
		target += r.URL.RequestURI()
		w.Header().Set("Location", target)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusPermanentRedirect)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte("Use HTTPS: " + target + "\n"))
		}
	})
}

// hostForURL brackets an IPv6 literal for use in a URL authority.
func hostForURL(h string) string {
	if strings.IndexByte(h, ':') >= 0 && !strings.HasPrefix(h, "[") {
		return "[" + h + "]"
	}
	return h
}

// portOf returns the bound port of the listener named name ("" if none).
func (m *Manager) portOf(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.servers {
		if s.name == name {
			if _, p, err := net.SplitHostPort(s.addr.String()); err == nil {
				return p
			}
		}
	}
	return ""
}
