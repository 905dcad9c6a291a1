package config

import "net"

// DefaultACMERedirectHTTP is tls.redirect_http of a listener with ACME:
// HTTP-01 needs port 80 anyway, and visitors typing the bare name land on
// HTTPS.
const DefaultACMERedirectHTTP = ":80"

// applyRedirectListeners adds, for each TLS listener whose redirect_http
// is on, the plain listener that redirects to it. Default: on at ":80" for
// ACME listeners unless some listener of the file already uses port 80
// (then that listener's routes decide, and ACME challenges are still
// answered on it first); off for the others. An explicit address that
// another listener uses is refused by validation as a duplicate address.
func (c *Config) applyRedirectListeners() {
	uses80 := false
	for _, l := range c.Listeners {
		if _, port, err := net.SplitHostPort(l.Address); err == nil && port == "80" {
			uses80 = true
		}
	}
	n := len(c.Listeners)
	for i := 0; i < n; i++ {
		l := c.Listeners[i]
		if l.TLS == nil || l.RedirectTo != "" {
			continue
		}
		addr := l.TLS.RedirectHTTP
		if addr == "" && l.TLS.ACME != nil && !uses80 {
			addr = DefaultACMERedirectHTTP
		}
		if addr == "" || addr == "off" || addr == l.Address {
			continue // "" and "off": none; the own address: refused by validation
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			continue // refused by validation
		}
		c.Listeners = append(c.Listeners, Listener{
			Name:       "redirect-http " + l.Name,
			Address:    addr,
			RedirectTo: l.Name,
		})
	}
}
