package route

import (
	"fmt"
	"regexp"
	"strings"
)

// pathKind orders path patterns from most to least specific; the numeric
// order is the precedence order (precedence.go).
type pathKind uint8

const (
	pathExact  pathKind = iota // "/health"
	pathPrefix                 // "/v1/*"
	pathRegex                  // "~^/items/[0-9]+$"
	pathAny                    // no path condition (or "*")
)

// pathPattern is one compiled path alternative of a route.
type pathPattern struct {
	kind pathKind
	raw  string
	// value is the exact path, or the prefix without its "/*" ("/v1" for
	// "/v1/*", "" for "/*").
	value string
	re    *regexp.Regexp
}

// parsePath compiles one path pattern. Paths are case-sensitive (RFC 3986
// §6.2.2.1: only scheme and host are case-insensitive) and compared byte for
// byte with the already normalised request path.
func parsePath(raw string) (pathPattern, error) {
	switch {
	case raw == "":
		return pathPattern{}, fmt.Errorf("%w: empty path (omit path to match any)", ErrPath)
	case raw == "*":
		return pathPattern{kind: pathAny, raw: raw}, nil
	case raw[0] == '~':
		re, err := regexp.Compile(raw[1:])
		if err != nil {
			return pathPattern{}, fmt.Errorf("%w: %w", ErrPath, err)
		}
		return pathPattern{kind: pathRegex, raw: raw, re: re}, nil
	case strings.HasSuffix(raw, "/*"):
		return pathPattern{kind: pathPrefix, raw: raw, value: raw[:len(raw)-2]}, nil
	case strings.HasSuffix(raw, "*"):
		return pathPattern{}, fmt.Errorf("%w: a prefix ends in \"/*\" (\"/v1/*\"); a '*' elsewhere at the end is ambiguous", ErrPath)
	}
	return pathPattern{kind: pathExact, raw: raw, value: raw}, nil
}

// prefixMatch reports whether path lies under the prefix p (written "p/*"):
// it is p itself or continues with '/'. So "/v1/*" matches "/v1", "/v1/" and
// "/v1/x", never "/v1x".
func prefixMatch(p, path string) bool {
	return strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/')
}

// match reports whether the normalised request path matches.
func (p *pathPattern) match(path string) bool {
	switch p.kind {
	case pathExact:
		return path == p.value
	case pathPrefix:
		return prefixMatch(p.value, path)
	case pathRegex:
		return p.re.MatchString(path)
	default:
		return true
	}
}

// covers reports whether every path p matches is also matched by o; false
// when unsure. A regex covers only the identical regex: deciding inclusion
// of regular languages is not worth it here.
func (o *pathPattern) covers(p *pathPattern) bool {
	switch o.kind {
	case pathAny:
		return true
	case pathExact:
		return p.kind == pathExact && p.value == o.value
	case pathPrefix:
		switch p.kind {
		case pathExact:
			return prefixMatch(o.value, p.value)
		case pathPrefix:
			// Everything under "/v1/x/*" is under "/v1/*".
			return prefixMatch(o.value, p.value)
		}
	case pathRegex:
		return p.kind == pathRegex && p.re.String() == o.re.String()
	}
	return false
}

// describe renders the pattern for explain output.
func (p *pathPattern) describe() string {
	switch p.kind {
	case pathExact:
		return "exact path " + p.value
	case pathPrefix:
		return fmt.Sprintf("prefix %s (len %d)", p.raw, len(p.value))
	case pathRegex:
		return "regex path " + p.raw
	default:
		return "any path"
	}
}

// whyNot explains a failed match of the request path.
func (p *pathPattern) whyNot(path string) string {
	switch p.kind {
	case pathExact:
		return fmt.Sprintf("path %s ≠ %s", path, p.value)
	case pathPrefix:
		return fmt.Sprintf("path %s not under %s", path, p.raw)
	default:
		return fmt.Sprintf("path %s does not match %s", path, p.raw)
	}
}
