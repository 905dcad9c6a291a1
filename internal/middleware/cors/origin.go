package cors

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadOrigin is wrapped by errors for a configured origin that is not a
// serialized origin ("https://app.example.com", "https://*.example.com",
// "*").
var ErrBadOrigin = errors.New("not a valid origin")

// originPattern is one configured origin: exact, or a wildcard matching
// any subdomain (one or more labels) of suffix.
type originPattern struct {
	exact string // lower-case "scheme://host[:port]"; "" for a wildcard
	// wildcard parts: "https://" and ".example.com[:port]".
	scheme, suffix string
}

func (p originPattern) match(origin string) bool {
	if p.exact != "" {
		return origin == p.exact
	}
	if !strings.HasPrefix(origin, p.scheme) || !strings.HasSuffix(origin, p.suffix) {
		return false
	}
	// The part the '*' stands for: one or more labels, never empty, so
	// "https://example.com" does not match "https://*.example.com".
	// origin was checked by normalizeOrigin, so it is a host name: the
	// labels before the suffix cannot hide a ':' or a '/'.
	return len(origin) > len(p.scheme)+len(p.suffix)
}

// parsePattern validates one configured origin. "null" is refused: it is
// what sandboxed documents and file: URLs send, so allowing it allows
// anyone who can make a page send it.
func parsePattern(s string) (originPattern, error) {
	if s == "null" {
		return originPattern{}, fmt.Errorf("%q: %w (allowing \"null\" lets any sandboxed page in)", s, ErrBadOrigin)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return originPattern{}, fmt.Errorf("%q: %w (want http:// or https:// then a host, no path)", s, ErrBadOrigin)
	}
	if strings.HasPrefix(rest, "*.") {
		if !validHostPort(rest[2:]) {
			return originPattern{}, fmt.Errorf("%q: %w", s, ErrBadOrigin)
		}
		return originPattern{scheme: scheme + "://", suffix: strings.ToLower(rest[1:])}, nil
	}
	if !validHostPort(rest) {
		return originPattern{}, fmt.Errorf("%q: %w (want http:// or https:// then a host, no path)", s, ErrBadOrigin)
	}
	return originPattern{exact: scheme + "://" + strings.ToLower(rest)}, nil
}

// normalizeOrigin checks a request's Origin value (RFC 6454 section 7:
// scheme "://" host [":" port]) and returns it lower-cased for matching.
// ok is false for anything else: "null", a path, userinfo, spaces,
// control characters, a list. Origins that fail never match.
func normalizeOrigin(v string) (string, bool) {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || len(v) > 2048 {
		return "", false
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
	default:
		return "", false
	}
	if !validHostPort(rest) {
		return "", false
	}
	return strings.ToLower(v), true
}

// validHostPort accepts a DNS name or IPv4 address, or a bracketed IPv6
// address, optionally followed by ":port". It refuses everything a host
// in an origin cannot hold (path, query, userinfo, spaces, controls).
func validHostPort(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[1:end], s[end+1:]
		if host == "" || strings.Trim(host, "0123456789abcdefABCDEF:.") != "" {
			return false
		}
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i+1:]
			if port == "" {
				return false
			}
		}
		if host == "" || len(host) > 253 {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return false
			}
		}
		if host[0] == '.' || host[len(host)-1] == '.' || strings.Contains(host, "..") {
			return false
		}
	}
	if len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}
