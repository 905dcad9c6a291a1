package protocol

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopByHop lists the fields a proxy removes from every forwarded message,
// whether or not the Connection field names them. Names are canonical.
//
// RFC 9110 §7.6.1: "intermediaries SHOULD remove or replace fields that are
// known to require removal before forwarding, whether or not they appear as
// a connection-option ... This includes but is not limited to:
// Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade."
//
// The list is the same as Go std net/http/httputil/reverseproxy.go
// (hopHeaders) so both engines behave like the stdlib proxy:
//   - Proxy-Authenticate and Proxy-Authorization are scoped to the next hop
//     (RFC 9110 §11.7.1, §11.7.2: they "apply only to the next inbound
//     proxy" / "next outbound client"). A client's Proxy-Authorization is a
//     credential meant for us or a forward proxy before us; passing it on
//     would leak it to the backend.
//   - Trailer announces trailer fields of this hop's framing (RFC 9110
//     §6.6.2). The outbound side re-announces the trailers it really sends
//     (net/http builds it from Request/Response.Trailer; the own engine must
//     do the same). httputil lists it for the same reason; "Trailer", not
//     "Trailers", per RFC 2616 erratum 4522.
var hopByHop = [...]string{
	"Connection",          // RFC 9110 §7.6.1
	"Proxy-Connection",    // RFC 9112 Appendix C.2.2; non-standard but still sent by libcurl
	"Keep-Alive",          // RFC 2068 §19.7.1, named by RFC 9110 §7.6.1
	"Proxy-Authenticate",  // RFC 9110 §11.7.1
	"Proxy-Authorization", // RFC 9110 §11.7.2
	"Te",                  // RFC 9110 §10.1.4 (canonical form of "TE")
	"Trailer",             // RFC 9110 §6.6.2, see above
	"Transfer-Encoding",   // RFC 9112 §6.1: framing belongs to the connection
	"Upgrade",             // RFC 9110 §7.8
}

// protectedFromConnection lists fields that a Connection option may not
// remove. RFC 9110 §7.6.1 forbids a sender from listing "a field that is
// intended for all recipients of the content", but a client can still send
// "Connection: Content-Length". httputil obeys and deletes it; we do not:
//   - Content-Length decides the framing of the forwarded message (RFC 9112
//     §6.2, §6.3). On the own engine, dropping it from the header while the
//     body is still sent would make the next hop read the body as the next
//     request (request smuggling).
//   - Host is required in every HTTP/1.1 request (RFC 9110 §7.2).
var protectedFromConnection = [...]string{"Content-Length", "Host"}

// RemoveHopByHop deletes the hop-by-hop fields from h before a message is
// forwarded, in place: every field named by a connection-option of any
// Connection field (comma-separated, case-insensitive, RFC 9110 §7.6.1), then
// the fixed list Connection, Proxy-Connection, Keep-Alive,
// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding and
// Upgrade.
//
// Two exceptions, both deliberate:
//   - "TE: trailers" survives (as exactly "trailers") when any TE field of h
//     contained the "trailers" token, as httputil does (Go issue 21096): gRPC
//     needs it, and RFC 9113 §8.2.2 allows TE only with that value on HTTP/2.
//     TE is a request field; a response has none and none is added.
//   - Content-Length and Host are never removed because a Connection option
//     names them (see protectedFromConnection).
//
// Call IsUpgrade before RemoveHopByHop: removal drops Connection and Upgrade,
// and the proxy re-adds "Connection: Upgrade" and "Upgrade: <proto>" for an
// upgrade it forwards. Call it before adding the proxy's own fields
// (X-Forwarded-*, Forwarded, X-Request-Id), so a client's Connection option
// cannot strip them.
//
// RemoveHopByHop does not allocate when h has no Connection field, nor when
// every connection-option is one of the fixed hop-by-hop names or "close";
// other options cost one canonicalisation each. h must not be used
// concurrently.
func RemoveHopByHop(h Header) {
	keepTrailers := valuesContainToken(canonicalValues(h, "Te"), "trailers")

	// RFC 9110 §7.6.1: "for each connection-option in this field, remove any
	// header or trailer field(s) from the message with the same name".
	// Several Connection fields are one list (RFC 9110 §5.3).
	for _, v := range canonicalValues(h, "Connection") {
		for v != "" {
			var opt string
			opt, v = nextListElement(v)
			if opt == "" || isFixedHopByHop(opt) {
				continue // removed below anyway
			}
			var name string
			if strings.EqualFold(opt, "close") {
				// The common option (RFC 9112 §9.6); "Close" is a reserved
				// field name (RFC 9110 §18.4). Spelled out to skip the
				// canonicalisation's allocation.
				name = "Close"
			} else {
				name = textproto.CanonicalMIMEHeaderKey(opt)
			}
			if isProtectedFromConnection(name) {
				continue
			}
			h.Del(name)
		}
	}
	if hh, ok := h.(http.Header); ok {
		// Fast path: the names are canonical, so a plain map delete is what
		// http.Header.Del would do, minus re-validating each name.
		for _, name := range hopByHop {
			delete(hh, name)
		}
	} else {
		for _, name := range hopByHop {
			h.Del(name)
		}
	}
	if keepTrailers {
		h.Set("Te", "trailers")
	}
}

// canonicalValues is h.Values(name) for a canonical name, reading an
// http.Header's map directly to skip re-validating the name.
func canonicalValues(h Header, name string) []string {
	if hh, ok := h.(http.Header); ok {
		return hh[name]
	}
	return h.Values(name)
}

// IsUpgrade reports whether h asks to switch protocols: a Connection field
// holds the "upgrade" option and an Upgrade field is present (RFC 9110
// §7.8: "A sender of Upgrade MUST also send an 'Upgrade' connection option";
// an Upgrade field without it is a hop-by-hop field to drop, not a request).
// proto is the first Upgrade field value with surrounding whitespace
// trimmed, e.g. "websocket" or "h2c, websocket".
//
// ok is false when proto is not a list of protocol tokens
// (protocol-name ["/" protocol-version], RFC 9110 §7.8). httputil answers an
// unprintable Upgrade value with an error (a 502); we treat it as no upgrade,
// so the request is forwarded as a plain request after RemoveHopByHop. It
// never allocates.
func IsUpgrade(h Header) (proto string, ok bool) {
	if !valuesContainToken(h.Values("Connection"), "upgrade") {
		return "", false
	}
	proto = textproto.TrimString(h.Get("Upgrade"))
	if proto == "" || !validUpgradeList(proto) {
		return "", false
	}
	return proto, true
}

// validUpgradeList reports whether s is a comma-separated list of
// protocol = token ["/" token] (RFC 9110 §7.8), with optional whitespace
// around the commas, so the value can be forwarded verbatim.
func validUpgradeList(s string) bool {
	seen := false
	for s != "" {
		var el string
		el, s = nextListElement(s)
		if el == "" {
			continue
		}
		name, version, hasVersion := strings.Cut(el, "/")
		if !IsToken(name) || (hasVersion && !IsToken(version)) {
			return false
		}
		seen = true
	}
	return seen
}

// valuesContainToken reports whether any element of the comma-separated
// field values equals token, ASCII case-insensitively (connection-options
// and transfer-codings are case-insensitive: RFC 9110 §7.6.1, §10.1.4).
// A TE element may carry parameters ("trailers;q=1" is not allowed for
// "trailers", RFC 9110 §10.1.4, but is tolerated): the match is on the part
// before ';'.
func valuesContainToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var el string
			el, v = nextListElement(v)
			if i := strings.IndexByte(el, ';'); i >= 0 {
				el = textproto.TrimString(el[:i])
			}
			if strings.EqualFold(el, token) {
				return true
			}
		}
	}
	return false
}

// nextListElement splits off the first element of a comma-separated list
// value (RFC 9110 §5.6.1), trimmed of optional whitespace; empty elements
// come back as "" and callers skip them, as §5.6.1 requires of recipients.
func nextListElement(s string) (el, rest string) {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return textproto.TrimString(s[:i]), s[i+1:]
	}
	return textproto.TrimString(s), ""
}

func isFixedHopByHop(opt string) bool {
	for _, name := range hopByHop {
		if strings.EqualFold(opt, name) {
			return true
		}
	}
	return false
}

func isProtectedFromConnection(name string) bool {
	for _, p := range protectedFromConnection {
		if name == p {
			return true
		}
	}
	return false
}

// IsToken reports whether s is a non-empty RFC 9110 §5.6.2 token
// (token = 1*tchar): the syntax of field names and methods.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !rfcTokenChar[s[i]] {
			return false
		}
	}
	return true
}

// rfcTokenChar marks the tchar set of RFC 9110 §5.6.2:
// "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" / DIGIT / ALPHA. A constant table, never written.
var rfcTokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// serverManaged are the fields a configuration may not set, add or remove
// on a message: they frame it (Content-Length RFC 9110 §8.6,
// Transfer-Encoding RFC 9112 §6.1, Trailer RFC 9110 §6.6.2) or belong to
// one connection (Connection, Keep-Alive, Proxy-Connection, TE, Upgrade:
// RFC 9110 §7.6.1, §7.8). The server writes them itself; an edit would
// desynchronise the proxy and its peers.
var serverManaged = map[string]bool{
	"Connection":        true,
	"Content-Length":    true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
}

// IsServerManaged reports whether the canonical field name is one the
// server manages itself (see serverManaged); configuration that edits
// headers must refuse it.
func IsServerManaged(name string) bool { return serverManaged[name] }
