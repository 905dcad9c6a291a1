package demo

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// httpsBase returns "https://localhost:port" for the HTTPS listen address:
// a loopback or unspecified host becomes localhost, the name the internal
// CA issues for (an IP would work too, but browsers show names better).
func httpsBase(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "https://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		host = "localhost"
	}
	if port == "443" {
		return "https://" + host
	}
	return "https://" + net.JoinHostPort(host, port)
}

// RootFile is where the internal CA's root certificate is, for trusting it.
func (h HTTPS) RootFile() string { return filepath.Join(h.CADir, tlsconf.RootCertFile) }

func httpsLinks(h HTTPS) []link {
	if h.Address == "" {
		return nil
	}
	base := httpsBase(h.Address)
	demoHost := strings.Replace(base, "https://localhost", "https://demo.localhost", 1)
	return []link{
		{"HTTPS (internal CA)", base + "/", "trust " + h.RootFile() + " to drop the browser warning"},
		{"HTTPS routing by host", demoHost + "/", "a certificate for demo.localhost, issued on the fly"},
	}
}

func httpsTries(h HTTPS) []tryLine {
	if h.Address == "" {
		return nil
	}
	base := httpsBase(h.Address)
	return []tryLine{
		{"HTTPS through the internal CA (HTTP/2)", "curl --cacert " + h.RootFile() + " " + base + "/app/api/hello"},
	}
}

// BannerHTTPS is Banner plus the HTTPS URLs and how to trust the internal
// CA's root.
func BannerHTTPS(listen string, h HTTPS) string {
	b := Banner(listen)
	if h.Address == "" {
		return b
	}
	var s strings.Builder
	s.WriteString(strings.TrimSuffix(b, "\nPress Ctrl-C to stop.\n"))
	fmt.Fprintf(&s, "\nHTTPS on %s (certificates from Gatehouse's internal CA):\n", httpsBase(h.Address))
	for _, l := range httpsLinks(h) {
		fmt.Fprintf(&s, "  %-26s %s\n", l.Title, l.URL)
	}
	for _, t := range httpsTries(h) {
		fmt.Fprintf(&s, "  # %s\n  %s\n", t.Title, t.Cmd)
	}
	fmt.Fprintf(&s, "  The CA's root certificate is %s\n", h.RootFile())
	s.WriteString("  Trust it (optional) on Debian/Ubuntu: sudo cp " + h.RootFile() +
		" /usr/local/share/ca-certificates/gatehouse-demo.crt && sudo update-ca-certificates\n")
	s.WriteString("\nPress Ctrl-C to stop.\n")
	return s.String()
}
