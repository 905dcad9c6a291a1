package protocol

import (
	"bytes"
	"net/url"
	"path"
	"strings"
)

// CleanPath normalises a request path before routing, so that a route's
// prefix cannot be escaped and one resource has one spelling:
//   - dot segments are resolved as RFC 3986 §5.2.4 remove_dot_segments does
//     ("/a/b/../c" → "/a/c", "/a/./b" → "/a/b"); ".." above the root is
//     dropped ("/../a" → "/a"); a final dot segment leaves a trailing slash
//     ("/a/b/.." → "/a/", "/a/." → "/a/"), as §5.2.4 specifies (path.Clean
//     would drop it);
//   - runs of '/' collapse to one ("/a//b" → "/a/b"). RFC 3986 gives empty
//     segments a meaning, but nginx (merge_slashes) and most routers merge
//     them, and "//" is a common way to slip past prefix rules;
//   - a leading '/' is added if missing ("" → "/", "a" → "/a");
//   - a trailing slash is kept ("/a/" stays "/a/").
//
// p is the path in its escaped (wire) form, without query: the own engine's
// request-target path or url.URL.EscapedPath. Percent-encoding:
//   - %2E / %2e count as '.' when deciding whether a whole segment is a dot
//     segment (RFC 3986 §2.3: '.' is unreserved, so "%2e" and "." are
//     equivalent, §6.2.2.2), so "/a/%2e%2E/b" resolves to "/b" and cannot
//     escape a "/a/" prefix route. Other segments keep their bytes as sent.
//   - %2F / %2f is never decoded: "/a%2Fb" is one segment, and "..%2F" is not
//     a dot segment. A backend that decodes %2F before resolving dots could
//     still be confused by it; see HasEncodedSlash to refuse such paths.
//
// It does not check percent-encoding validity and does not handle the
// asterisk-form ("*") or absolute-form targets: callers pass a path. When p
// is already clean, CleanPath returns p itself without allocating.
// CleanPath is idempotent.
func CleanPath(p string) string {
	if isCleanPath(p) {
		return p
	}
	var stack [128]byte
	out := stack[:0]
	out = append(out, '/')
	for i := 0; i < len(p); {
		if p[i] == '/' {
			i++
			continue
		}
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p)
		} else {
			j += i
		}
		switch dotSegment(p[i:j]) {
		case 1: // "." : drop it; out already ends in '/'.
		case 2: // "..": drop the last output segment, keep its leading '/'.
			if len(out) > 1 {
				out = out[:len(out)-1] // the '/' after the last segment
				out = out[:bytes.LastIndexByte(out, '/')+1]
			}
		default:
			out = append(out, p[i:j]...)
			if j < len(p) {
				out = append(out, '/')
			}
		}
		i = j
	}
	return string(out)
}

// isCleanPath reports whether CleanPath(p) == p: p starts with '/', no
// segment is empty (except the last, for a trailing slash) and none is a
// dot segment.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			// Last segment: empty means trailing slash, which is fine.
			return dotSegment(p[i:]) == 0
		}
		if j == 0 || dotSegment(p[i:i+j]) != 0 {
			return false
		}
		i += j + 1
	}
	return true
}

// dotSegment returns 1 for a "." segment, 2 for "..", and 0 otherwise,
// reading "%2e"/"%2E" as '.'.
func dotSegment(seg string) int {
	if len(seg) == 0 || len(seg) > 6 {
		return 0
	}
	dots := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case seg[i] == '%' && i+2 < len(seg) && seg[i+1] == '2' && (seg[i+2] == 'e' || seg[i+2] == 'E'):
			i += 3
		default:
			return 0
		}
		dots++
	}
	if dots > 2 {
		return 0
	}
	return dots
}

// HasEncodedSlash reports whether the escaped path p contains "%2F" or
// "%5C" (any case): a '/' or '\' that CleanPath does not treat as a
// separator but that some backends decode into one, re-enabling "../"
// tricks behind the proxy ("/api/..%2Fadmin"). Routes that proxy to such
// backends can refuse these paths with 400.
func HasEncodedSlash(p string) bool {
	for i := strings.IndexByte(p, '%'); i >= 0 && i+2 < len(p); {
		if (p[i+1] == '2' && (p[i+2] == 'f' || p[i+2] == 'F')) ||
			(p[i+1] == '5' && (p[i+2] == 'c' || p[i+2] == 'C')) {
			return true
		}
		k := strings.IndexByte(p[i+1:], '%')
		if k < 0 {
			return false
		}
		i += k + 1
	}
	return false
}

// CleanRequestPath applies CleanPath to u's path, keeping Path and RawPath
// consistent as net/url expects: it cleans the escaped form
// (u.EscapedPath()), then sets Path to its decoding and RawPath to the
// cleaned escaped form only when that differs from Path's default encoding
// (else ""), as url.URL.setPath does. So "/a/%2e%2e/b%2Fc" becomes Path
// "/b/c", RawPath "/b%2Fc", and an outbound request sends "/b%2Fc".
//
// If the escaped path is not valid percent-encoding (net/http never hands
// such a request to a handler), Path is cleaned directly and RawPath
// cleared. A Path that is "*" or empty with an opaque URL is left alone. It
// reports whether u changed, and does not allocate when nothing changes and
// RawPath is empty or valid.
func CleanRequestPath(u *url.URL) bool {
	if u.Opaque != "" || u.Path == "*" {
		return false
	}
	esc := u.EscapedPath()
	clean := CleanPath(esc)
	if clean == esc {
		return false
	}
	decoded, err := url.PathUnescape(clean)
	if err != nil {
		u.Path = CleanPath(u.Path)
		u.RawPath = ""
		return true
	}
	u.Path = decoded
	u.RawPath = ""
	if u.EscapedPath() != clean {
		u.RawPath = clean
	}
	return true
}

// SetEscapedPath sets u's Path and RawPath from escaped, a path in its
// escaped (wire) form that a middleware built (a rewrite, a version
// prefix), keeping them consistent as net/url expects: afterwards
// u.EscapedPath() returns escaped when it is valid percent-encoding
// ("/a%2Fb" keeps its %2F). An invalid encoding (a regular expression
// split a %XX) is taken literally as Path, so its '%' is sent encoded.
//
// A result whose decoded form has dot segments or empty segments
// ("%2e%2e" put behind an added prefix, "//") is cleaned with path.Clean,
// keeping a trailing slash, and RawPath is cleared, so a rewrite can never
// reach outside the path it aims at (RFC 3986 §5.2.4). Unlike CleanPath,
// the decoded form decides here: the result is what the middleware built,
// not what a client sent.
func SetEscapedPath(u *url.URL, escaped string) {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		u.Path, u.RawPath = escaped, ""
		p = escaped
	} else {
		u.Path, u.RawPath = p, ""
		if u.EscapedPath() != escaped {
			u.RawPath = escaped
			if u.EscapedPath() != escaped {
				// escaped is not an encoding of p net/url accepts.
				u.RawPath = ""
			}
		}
	}
	if HasDotSegment(p) {
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		u.Path, u.RawPath = clean, ""
	}
}

// HasDotSegment reports whether p, a decoded path (url.URL.Path), has a "."
// or ".." segment or an empty one ("//"): what SetEscapedPath cleans, and
// what no path it sets has.
func HasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return strings.Contains(p, "//")
}
