package route

import (
	"fmt"
	"net/textproto"
)

// headerCond is one compiled header condition. Header names are
// case-insensitive (RFC 9110 §5.1), so the name is canonicalised once here
// and http.Header.Get finds it without canonicalising (and allocating) per
// request. Values are case-sensitive: RFC 9110 leaves value case to each
// field's definition, and an exact comparison is the only safe default.
type headerCond struct {
	name string
	valueMatcher
}

// parseHeader compiles name → value. An empty value is refused: a header
// with an empty value counts as absent (Get returns "" for both), so the
// condition could never hold; "*" is the way to ask for presence.
func parseHeader(name, value string) (headerCond, error) {
	if name == "" || !validToken(name) {
		return headerCond{}, fmt.Errorf("%w: header name %q is not a token (RFC 9110 §5.1)", ErrCondition, name)
	}
	if value == "" {
		return headerCond{}, fmt.Errorf("%w: empty value for header %s (use \"*\" for present)", ErrCondition, name)
	}
	v, err := parseValue(value)
	if err != nil {
		return headerCond{}, fmt.Errorf("header %s: %w", name, err)
	}
	return headerCond{name: textproto.CanonicalMIMEHeaderKey(name), valueMatcher: v}, nil
}

// match tests the first value of the header. Every condition requires the
// header to be present with a non-empty value; "*" requires nothing more.
func (c *headerCond) match(h HeaderReader) bool {
	if h == nil {
		return false
	}
	v := h.Get(c.name)
	if v == "" {
		return false
	}
	switch c.kind {
	case valueExact:
		return v == c.value
	case valueRegex:
		return c.re.MatchString(v)
	}
	return true
}

// whyNot explains a failed match.
func (c *headerCond) whyNot(h HeaderReader) string {
	v := ""
	if h != nil {
		v = h.Get(c.name)
	}
	if v == "" {
		return "header " + c.name + " missing"
	}
	if c.kind == valueExact {
		return fmt.Sprintf("header %s: %q ≠ %q", c.name, v, c.value)
	}
	return fmt.Sprintf("header %s: %q does not match %s", c.name, v, c.raw)
}

// validToken reports whether s is an RFC 9110 §5.6.2 token.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c < 0x80 && c > ' ' && !isDelimiter(c):
		default:
			return false
		}
	}
	return true
}

// isDelimiter reports the RFC 9110 §5.6.2 delimiters.
func isDelimiter(c byte) bool {
	switch c {
	case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}', 0x7f:
		return true
	}
	return false
}
