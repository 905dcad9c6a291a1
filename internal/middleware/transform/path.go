package transform

import (
	"net/url"
	"path"
	"strings"
)

// This is the same rule as internal/middleware/rewrite's (middleware
// packages do not import each other): URL.Path and URL.RawPath stay
// consistent, and a result with dot segments is cleaned so a rewrite can
// never reach outside the prefix it aims at.

// setEscapedPath sets u's Path and RawPath from an escaped path so that
// u.EscapedPath() returns it, when it is a valid encoding. A result whose
// decoded form has dot segments ("%2e%2e" behind a prefix) is cleaned
// (RFC 3986 section 5.2.4).
func setEscapedPath(u *url.URL, escaped string) {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		u.Path, u.RawPath = escaped, ""
		p = escaped
	} else {
		u.Path, u.RawPath = p, ""
		if u.EscapedPath() != escaped {
			u.RawPath = escaped
			if u.EscapedPath() != escaped {
				u.RawPath = ""
			}
		}
	}
	if hasDotSegment(p) {
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		u.Path, u.RawPath = clean, ""
	}
}

func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return strings.Contains(p, "//")
}

// cleanRest returns an escaped path with its dot segments (decoded or
// percent-encoded) resolved, as a rooted path: it can never go above "/".
func cleanRest(escaped string) string {
	if escaped == "" {
		return ""
	}
	var u url.URL
	setEscapedPath(&u, escaped)
	return u.EscapedPath()
}
