package compress

import (
	"net/http"
	"strings"
)

// AddVary adds "Accept-Encoding" to the response header's Vary unless it
// is already listed or Vary is "*" (RFC 9110 section 12.5.5: a list of
// case-insensitive field names, possibly over several field lines; "*"
// already says the response varies on everything). Existing lines are kept.
func AddVary(h http.Header) {
	for _, v := range h["Vary"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = trimOWS(tok)
			if tok == "*" || strings.EqualFold(tok, "Accept-Encoding") {
				return
			}
		}
	}
	h["Vary"] = append(h["Vary"], "Accept-Encoding")
}

// weakenETag turns a strong entity tag into a weak one. An entity tag is
// strong only for one exact sequence of bytes (RFC 9110 section 8.8.3);
// compressing on the fly produces bytes the origin never validated and
// that may differ between levels or library versions, so the tag can
// only promise semantic equivalence: W/. Weak comparison (If-None-Match,
// section 13.1.2) still matches the origin's tag, so revalidation keeps
// working; If-Range (strong comparison, section 13.1.5) then fails safe to
// a full response.
func weakenETag(h http.Header) {
	vals := h["Etag"]
	if len(vals) == 0 {
		return
	}
	if v := vals[0]; strings.HasPrefix(v, `"`) {
		h["Etag"] = []string{"W/" + v}
	}
}

// noTransform reports whether Cache-Control has the no-transform directive:
// a proxy must not transform such a response's content (RFC 9110 section
// 7.7, RFC 9111 section 5.2.2.6), and adding a content coding does.
func noTransform(values []string) bool {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			d = trimOWS(d)
			if i := strings.IndexByte(d, '='); i >= 0 {
				d = trimOWS(d[:i])
			}
			if strings.EqualFold(d, "no-transform") {
				return true
			}
		}
	}
	return false
}

// encoded reports whether Content-Encoding already names a coding other
// than identity: such content is never coded again (RFC 9110 section
// 8.4: codings would stack; we do not stack them).
func encoded(h http.Header) bool {
	for _, v := range h["Content-Encoding"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = trimOWS(tok); tok != "" && !strings.EqualFold(tok, "identity") {
				return true
			}
		}
	}
	return false
}

// bodyless reports statuses whose responses never have content: 1xx, 204
// and 304 (RFC 9110 sections 15.2, 15.3.5, 15.4.5), and 206, whose content
// is a range of a representation and must stay as the origin sent it
// (RFC 9110 section 14).
func bodyless(status int) bool {
	return status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || status == http.StatusPartialContent
}
