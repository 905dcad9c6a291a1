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
	// Scheme is how the target is spoken to: "http" (HTTP/1.1, the
	// default), "h2c" (HTTP/2 over cleartext, prior knowledge; for gRPC)
	// or "https" (TLS, HTTP/2 or HTTP/1.1 by ALPN).
	Scheme string
	// Weight is the target's weight (" weight=N"), default 1.
	Weight int
}

// String renders t as written in a config ("10.0.0.5:8080", "unix:/run/app.sock").
func (t Target) String() string {
	if t.Network == "unix" {
		return "unix:" + t.Address
	}
	if t.Scheme != "" && t.Scheme != "http" {
		return t.Scheme + "://" + t.Address
	}
	return t.Address
}

// targetHint is shown with every target error.
const targetHint = `write a target as "10.0.0.5:8080", "http://app.internal:8080", "h2c://grpc.internal:9000", "https://api.example.com:443" or "unix:/run/app.sock", optionally followed by " weight=3"`

// ParseTarget parses an upstream target: "host:port", "http://host:port",
// "h2c://host:port", "https://host:port" or "unix:/absolute/path", each
// optionally followed by " weight=N". Errors wrap ErrBadTarget; the second
// result is a hint for the operator.
func ParseTarget(s string) (Target, string, error) {
	bad := func(format string, args ...any) (Target, string, error) {
		return Target{}, targetHint, fmt.Errorf("%w: "+format, append([]any{ErrBadTarget}, args...)...)
	}
	weight := DefaultTargetWeight
	if addr, opts, ok := strings.Cut(strings.TrimSpace(s), " "); ok {
		for opt := range strings.FieldsSeq(opts) {
			v, ok := strings.CutPrefix(opt, "weight=")
			if !ok {
				return bad("%q: unknown target option %q (only weight=N)", s, opt)
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxTargetWeight {
				return bad("%q: weight must be a whole number from 1 to %d", s, MaxTargetWeight)
			}
			weight = n
		}
		s = addr
	}
	t, hint, err := parseTargetAddress(s, bad)
	t.Weight = weight
	return t, hint, err
}

func parseTargetAddress(s string, bad func(string, ...any) (Target, string, error)) (Target, string, error) {
	scheme := "http"
	switch {
	case s == "":
		return bad("empty target")
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		if !filepath.IsAbs(p) {
			return bad("%q: a unix socket path must be absolute", s)
		}
		return Target{Network: "unix", Address: filepath.Clean(p), Scheme: "http"}, "", nil
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c") {
			return bad("%q: only http://, h2c:// and https:// targets are supported", s)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return Target{}, "a target names a server only; to add a path prefix use the rewrite middleware (add_prefix)",
				fmt.Errorf("%w: %q has a path, query or credentials", ErrBadTarget, s)
		}
		scheme = u.Scheme
		s = u.Host
		if u.Port() == "" && scheme == "https" {
			s = net.JoinHostPort(u.Hostname(), "443")
		}
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
	return Target{Network: "tcp", Address: net.JoinHostPort(host, port), Scheme: scheme}, "", nil
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
