package route

import (
	"fmt"
	"net/url"
	"strings"
)

// queryCond is one compiled query-parameter condition. The name and value
// are compared decoded (application/x-www-form-urlencoded: "%XX" escapes and
// '+' for space), with the same rules as net/url.ParseQuery, so a route
// matches exactly when url.ParseQuery(RawQuery)[name] would contain a
// matching value:
//   - pairs are separated by '&'; a pair containing ';' is skipped (Go 1.17+
//     net/url behaviour, which closes a cache-poisoning split between
//     proxies and backends, golang.org/issue/25192);
//   - a pair whose name or value has a malformed escape is skipped;
//   - any occurrence of a repeated parameter may satisfy the condition.
//
// "*" means present, with any value including an empty one ("?debug").
type queryCond struct {
	name string
	valueMatcher
}

func parseQuery(name, value string) (queryCond, error) {
	if name == "" {
		return queryCond{}, fmt.Errorf("%w: empty query parameter name", ErrCondition)
	}
	v, err := parseValue(value)
	if err != nil {
		return queryCond{}, fmt.Errorf("query %s: %w", name, err)
	}
	return queryCond{name: name, valueMatcher: v}, nil
}

// match scans the raw query without building url.Values. It allocates only
// for a regex condition whose candidate value contains an escape ('%' or
// '+'), to hand the decoded value to the regexp.
func (c *queryCond) match(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if !decodedEqual(k, c.name) {
			continue
		}
		switch c.kind {
		case valuePresent:
			if validEscapes(v) {
				return true
			}
		case valueExact:
			if decodedEqual(v, c.value) {
				return true
			}
		default:
			if s, ok := decodeValue(v); ok && c.re.MatchString(s) {
				return true
			}
		}
	}
	return false
}

// whyNot explains a failed match.
func (c *queryCond) whyNot(raw string) string {
	vals, _ := url.ParseQuery(raw) // same pair rules as match; errors skip pairs
	got, ok := vals[c.name]
	if !ok {
		return "query " + c.name + " missing"
	}
	if c.kind == valueExact {
		return fmt.Sprintf("query %s: %q ≠ %q", c.name, got, c.value)
	}
	return fmt.Sprintf("query %s: %q does not match %s", c.name, got, c.raw)
}

// decodedEqual reports whether enc, decoded as a query component, equals
// want, without allocating. A malformed escape makes it false, as
// url.QueryUnescape would fail.
func decodedEqual(enc, want string) bool {
	j := 0
	for i := 0; i < len(enc); {
		c := enc[i]
		switch c {
		case '%':
			if i+2 >= len(enc) || !isHex(enc[i+1]) || !isHex(enc[i+2]) {
				return false
			}
			c = unhex(enc[i+1])<<4 | unhex(enc[i+2])
			i += 3
		case '+':
			c = ' '
			i++
		default:
			i++
		}
		if j >= len(want) || want[j] != c {
			return false // a mismatch is false whatever follows
		}
		j++
	}
	return j == len(want)
}

// validEscapes reports whether every '%' in s starts a valid escape.
func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// decodeValue decodes a query component, allocating only when it has
// something to decode.
func decodeValue(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	d, err := url.QueryUnescape(s)
	return d, err == nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
