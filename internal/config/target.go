package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrBadTarget is wrapped by ParseTarget's errors.
var ErrBadTarget = errors.New("invalid upstream target")

// Target is a parsed upstream target.
type Target struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is "host:port" for tcp, the socket path for unix.
	Address string
}

// String renders t as written in a config ("10.0.0.5:8080", "unix:/run/app.sock").
func (t Target) String() string {
	if t.Network == "unix" {
		return "unix:" + t.Address
	}
	return t.Address
}

// targetHint is shown with every target error.
const targetHint = `write a target as "10.0.0.5:8080", "http://app.internal:8080" or "unix:/run/app.sock"`

// ParseTarget parses an upstream target: "host:port", "http://host:port" or
// "unix:/absolute/path". https:// is refused until upstream TLS exists.
// Errors wrap ErrBadTarget; the second result is a hint for the operator.
func ParseTarget(s string) (Target, string, error) {
	bad := func(format string, args ...any) (Target, string, error) {
		return Target{}, targetHint, fmt.Errorf("%w: "+format, append([]any{ErrBadTarget}, args...)...)
	}
	switch {
	case s == "":
		return bad("empty target")
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		if !filepath.IsAbs(p) {
			return bad("%q: a unix socket path must be absolute", s)
		}
		return Target{Network: "unix", Address: filepath.Clean(p)}, "", nil
	case strings.HasPrefix(s, "https://"):
		return Target{}, "upstream TLS arrives with the TLS issue; use http:// for now",
			fmt.Errorf("%w: %q: https targets are not supported yet", ErrBadTarget, s)
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "http" {
			return bad("%q: only http:// targets are supported", s)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return Target{}, "a target names a server only; to add a path prefix use the rewrite middleware (add_prefix)",
				fmt.Errorf("%w: %q has a path, query or credentials", ErrBadTarget, s)
		}
		s = u.Host
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return bad("%q is not host:port", s)
	}
	if host == "" {
		return bad("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad("%q: port must be 1 to 65535", s)
	}
	if !validHost(host) {
		return bad("%q: %q is not a valid host name or IP address", s, host)
	}
	return Target{Network: "tcp", Address: net.JoinHostPort(host, port)}, "", nil
}

// validHost reports whether h is an IP address or a DNS name (letters,
// digits, '-', '_' and dots; RFC 1123 section 2.1 plus the '_' seen in
// service names).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}
