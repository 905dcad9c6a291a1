package route

import (
	"fmt"
	"strings"
)

// hostKind orders host patterns from most to least specific; the numeric
// order is the precedence order (precedence.go).
type hostKind uint8

const (
	hostExact    hostKind = iota // "api.example.com"
	hostWildcard                 // "*.example.com"
	hostAny                      // no host condition (or "*")
)

// hostPattern is one compiled host alternative of a route.
type hostPattern struct {
	kind hostKind
	raw  string // as written in the config, for explain output
	// value is the exact host key (hostKey form) or, for a wildcard, the
	// suffix including its leading dot (".example.com").
	value string
}

// parseHost compiles one host pattern. Hosts are case-insensitive (RFC 9110
// §4.2.3), so the pattern is lowered here once and the request host in
// hostKey. A port is never part of a pattern: routes match on any port.
func parseHost(raw string) (hostPattern, error) {
	p := strings.TrimSpace(raw)
	if p == "" {
		return hostPattern{}, fmt.Errorf("%w: empty host (omit host to match any)", ErrHost)
	}
	if p == "*" {
		return hostPattern{kind: hostAny, raw: raw}, nil
	}
	if strings.HasPrefix(p, "*.") {
		suffix := p[1:]
		if strings.ContainsAny(suffix, "*:[]") || len(suffix) < 2 {
			return hostPattern{}, fmt.Errorf("%w: a wildcard is \"*.\" followed by a domain", ErrHost)
		}
		return hostPattern{kind: hostWildcard, raw: raw, value: hostKey(suffix)}, nil
	}
	if strings.Contains(p, "*") {
		return hostPattern{}, fmt.Errorf("%w: '*' is only allowed as the first label (\"*.example.com\")", ErrHost)
	}
	if strings.HasPrefix(p, "[") {
		// An IPv6 literal (RFC 3986 §3.2.2), and nothing after it.
		if !strings.HasSuffix(p, "]") || strings.ContainsAny(p[1:len(p)-1], "[]") {
			return hostPattern{}, fmt.Errorf("%w: an IPv6 literal is written \"[::1]\", without a port", ErrHost)
		}
	} else if strings.ContainsAny(p, "[]") {
		return hostPattern{}, fmt.Errorf("%w: brackets only enclose an IPv6 literal", ErrHost)
	} else if strings.Count(p, ":") == 1 {
		return hostPattern{}, fmt.Errorf("%w: a port is never part of a host pattern", ErrHost)
	}
	key := hostKey(p)
	if key == "" {
		return hostPattern{}, fmt.Errorf("%w: empty host", ErrHost)
	}
	return hostPattern{kind: hostExact, raw: raw, value: key}, nil
}

// match reports whether the request host key (hostKey form) matches. A
// wildcard needs at least one label before its suffix: "*.example.com"
// matches "a.example.com" and "a.b.example.com" but not "example.com".
func (h *hostPattern) match(key string) bool {
	switch h.kind {
	case hostExact:
		return key == h.value
	case hostWildcard:
		return len(key) > len(h.value) && strings.HasSuffix(key, h.value)
	default:
		return true
	}
}

// covers reports whether every host h matches is also matched by o; false
// when unsure (shadow.go relies on it being conservative).
func (o *hostPattern) covers(h *hostPattern) bool {
	switch o.kind {
	case hostAny:
		return true
	case hostExact:
		return h.kind == hostExact && h.value == o.value
	case hostWildcard:
		switch h.kind {
		case hostExact:
			return o.match(h.value)
		case hostWildcard:
			// "*.a.example.com" ⊂ "*.example.com", and equal suffixes.
			return strings.HasSuffix(h.value, o.value)
		}
	}
	return false
}

// describe renders the pattern for explain output, e.g. "exact host
// api.example.com" or "wildcard host *.example.com (suffix len 12)".
func (h *hostPattern) describe() string {
	switch h.kind {
	case hostExact:
		return "exact host " + h.value
	case hostWildcard:
		return fmt.Sprintf("wildcard host *%s (suffix len %d)", h.value, len(h.value))
	default:
		return "any host"
	}
}

// whyNot explains a failed match of the request host key.
func (h *hostPattern) whyNot(key string) string {
	switch h.kind {
	case hostExact:
		return fmt.Sprintf("host %s ≠ %s", key, h.value)
	default:
		return fmt.Sprintf("host %s not under *%s", key, h.value)
	}
}
