package route

import "strings"

// HeaderReader is the one header operation the router needs. http.Header
// satisfies it; so does the own engine's header view. Get must return the
// first value of the named header, or "" when it is absent. Names passed to
// Get are already in canonical form (textproto.CanonicalMIMEHeaderKey), so
// http.Header.Get does not allocate.
type HeaderReader interface {
	Get(name string) string
}

// Request is the view of a request the router matches on. The router only
// reads it and keeps no reference after Match or Explain returns.
//
// Host may carry a port (ignored) and any letter case (compared
// case-insensitively, RFC 9110 §4.2.3: the host is case-insensitive). Path is
// the normalised path (the caller decodes and cleans it; the router compares
// it byte for byte). RawQuery is the query without '?'. Header may be nil,
// which makes every header condition fail.
type Request struct {
	Method   string
	Host     string
	Path     string
	RawQuery string
	Header   HeaderReader
}

// hostKey reduces a Host header value (RFC 9110 §7.2: uri-host [":" port]) to
// the key routes are indexed by: the port is dropped, IPv6 brackets are
// removed ("[::1]:8080" → "::1"), one trailing dot of a fully qualified name is
// dropped ("example.com." → "example.com"), and ASCII letters are lowered.
// It returns a substring of h (no allocation) unless h has an upper-case
// letter, which is rare: clients send host names in lower case.
func hostKey(h string) string {
	if len(h) > 0 && h[0] == '[' {
		if k := strings.IndexByte(h, ']'); k > 0 {
			h = h[1:k]
		}
	} else if k := strings.LastIndexByte(h, ':'); k >= 0 && strings.IndexByte(h, ':') == k {
		// Exactly one colon: host:port. More than one is an unbracketed
		// IPv6 literal, which has no port to strip.
		h = h[:k]
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	if hasUpperASCII(h) {
		h = lowerASCII(h)
	}
	return h
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// lowerASCII lowers only ASCII letters: host names are ASCII on the wire (an
// IDN arrives as its A-label, RFC 5890), and strings.ToLower would also fold
// non-ASCII bytes, making "É" and "é" equal where the wire says otherwise.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
