package protocol

import (
	"net/netip"
	"strings"
)

// Canonical names of the forwarding fields.
const (
	headerXForwardedFor   = "X-Forwarded-For"
	headerXForwardedProto = "X-Forwarded-Proto"
	headerXForwardedHost  = "X-Forwarded-Host"
	headerForwarded       = "Forwarded" // RFC 7239
)

// ClientIP returns the address of the client that originated the request.
//
// remote is the TCP peer (after the PROXY protocol, if any). When remote is
// not in trusted, its X-Forwarded-For could be anything the client wrote, so
// remote is the answer. When it is trusted, the X-Forwarded-For list (all
// fields, as one comma-separated list, RFC 9110 §5.3) is walked from the
// right, because each proxy appends the peer it saw and only the entries
// added by our own trusted proxies are believable:
//   - a trusted address is one of our proxies: keep walking;
//   - the first untrusted address is the client;
//   - if every entry is trusted, the leftmost one is the client;
//   - an entry that is not an IP address ("unknown", a name, garbage, a
//     zone) stops the walk: the last good address (initially remote) is the
//     answer, since anything left of garbage cannot be attributed.
//
// Entries may carry a port ("192.0.2.1:4711", "[2001:db8::1]:4711") or IPv6
// brackets, as some load balancers write them; empty elements are skipped
// (RFC 9110 §5.6.1). The Forwarded field (RFC 7239) is written by
// SetForwarded but not read here, so there is one source of truth.
//
// The result is IPv4-unmapped and never has a zone. It is always either
// remote or an address written in the header. It does not allocate.
func ClientIP(remote netip.Addr, h Header, trusted *TrustedSet) netip.Addr {
	client := remote.Unmap().WithZone("")
	if !trusted.Contains(remote) {
		return client
	}
	values := h.Values(headerXForwardedFor)
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var el string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				el, v = v[j+1:], v[:j]
			} else {
				el, v = v, ""
			}
			el = strings.Trim(el, " \t")
			if el == "" {
				continue
			}
			a, ok := parseNodeAddr(el)
			if !ok {
				return client
			}
			client = a
			if !trusted.Contains(a) {
				return client
			}
		}
	}
	return client
}

// parseNodeAddr parses one X-Forwarded-For element: an IP address,
// optionally bracketed if IPv6, optionally followed by ":port". Zones are
// refused (they mean nothing on another host, and parsing one allocates).
func parseNodeAddr(s string) (netip.Addr, bool) {
	if strings.IndexByte(s, '%') >= 0 {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 || !validPortSuffix(s[end+1:]) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	// "192.0.2.1:4711": exactly one colon, IPv4 before it.
	i := strings.IndexByte(s, ':')
	if i < 0 || !validPortSuffix(s[i:]) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// validPortSuffix accepts "" or ":" followed by 1-5 digits.
func validPortSuffix(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) < 2 || len(s) > 6 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SetForwarded writes the forwarding fields of an outbound request into out,
// from the inbound request's header in (out and in may be the same Header).
// peer is the TCP peer of the inbound connection; peerTrusted says whether
// it is one of our proxies (TrustedSet.Contains); proto is the scheme the
// client used to reach us ("http" or "https") and host the Host it asked
// for.
//
// A trusted peer's forwarding fields are kept and extended; an untrusted
// peer's are discarded and replaced, so a client cannot forge them:
//   - X-Forwarded-For: trusted, the incoming list (all fields joined with
//     ", ") with peer appended; untrusted, just peer. IPv6 is written bare
//     ("2001:db8::1"), as httputil and nginx do.
//   - X-Forwarded-Proto, X-Forwarded-Host: trusted and present, the incoming
//     values unchanged (they describe the original client's request, not
//     our hop); otherwise proto / host.
//   - Forwarded (RFC 7239 §4): trusted, the incoming elements with one
//     element for this hop appended; untrusted, that element alone. The
//     element is for=<peer>;proto=<proto>;host=<host>, IPv6 quoted and
//     bracketed (for="[2001:db8::1]", RFC 7239 §6), host quoted when it is
//     not a token (a port's ':' is not a tchar, RFC 7239 §4).
//
// An invalid peer (e.g. a Unix socket) is written as "for=unknown" (RFC 7239
// §6.3) and left out of X-Forwarded-For. An empty or unsafe proto or host
// (not a token / containing control characters) is omitted, never written,
// so nothing received can inject a field. On a header that implements
// ValueBuilder it builds each value in the header's own storage and does
// not allocate; on any other (http.Header) it allocates one scratch buffer
// and one string per field it changes.
func SetForwarded(out, in Header, peer netip.Addr, peerTrusted bool, proto, host string) {
	peer = peer.Unmap().WithZone("")
	if !IsToken(proto) {
		proto = ""
	}
	if !safeFieldValue(host) {
		host = ""
	}

	// A stack buffer would escape through the interface calls that store
	// the value (escape analysis cannot see through them), costing one
	// allocation per request even on the engine's header; so the value is
	// built in the header's own spare storage when it lends one.
	vb, _ := out.(ValueBuilder)
	var buf []byte
	if vb != nil {
		buf = vb.ValueBuf()
	} else {
		buf = make([]byte, 0, 128)
	}

	// X-Forwarded-For.
	var prior []string
	if peerTrusted {
		prior = in.Values(headerXForwardedFor)
	}
	buf = appendJoined(buf, prior)
	if peer.IsValid() {
		if len(buf) > 0 {
			buf = append(buf, ", "...)
		}
		buf = peer.AppendTo(buf)
	}
	setBytes(out, headerXForwardedFor, buf)

	keepOrSet(out, in, headerXForwardedProto, peerTrusted, proto)
	keepOrSet(out, in, headerXForwardedHost, peerTrusted, host)

	// Forwarded (RFC 7239 §4: "a proxy ... appends" its element to the
	// list; an untrusted list is replaced, RFC 7239 §8.1 on forgery).
	prior = nil
	if peerTrusted {
		prior = in.Values(headerForwarded)
	}
	if vb != nil {
		// The previous value may now live in the spare storage buf
		// viewed: take the spare storage anew.
		buf = vb.ValueBuf()
	}
	buf = appendJoined(buf[:0], prior)
	if len(buf) > 0 {
		buf = append(buf, ", "...)
	}
	buf = appendForwardedElement(buf, peer, proto, host)
	setBytes(out, headerForwarded, buf)
}

// appendForwardedElement appends one RFC 7239 forwarded-element.
func appendForwardedElement(buf []byte, peer netip.Addr, proto, host string) []byte {
	buf = append(buf, "for="...)
	switch {
	case !peer.IsValid():
		buf = append(buf, "unknown"...) // RFC 7239 §6.3
	case peer.Is6():
		// RFC 7239 §6: IPv6 in brackets, quoted (':' and '[' are not tchars).
		buf = append(buf, `"[`...)
		buf = peer.AppendTo(buf)
		buf = append(buf, `]"`...)
	default:
		buf = peer.AppendTo(buf)
	}
	if proto != "" {
		buf = append(buf, ";proto="...)
		buf = append(buf, proto...)
	}
	if host != "" {
		buf = append(buf, ";host="...)
		buf = appendTokenOrQuoted(buf, host)
	}
	return buf
}

// appendTokenOrQuoted appends s as a token if it is one, else as a
// quoted-string with '"' and '\' escaped (RFC 9110 §5.6.4). s must satisfy
// safeFieldValue.
func appendTokenOrQuoted(buf []byte, s string) []byte {
	if IsToken(s) {
		return append(buf, s...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			buf = append(buf, '\\')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}

// keepOrSet implements the X-Forwarded-Proto / -Host rule of SetForwarded.
func keepOrSet(out, in Header, name string, trusted bool, v string) {
	if trusted {
		if iv := in.Values(name); len(iv) > 0 {
			// When out and in are the same Header the values are equal and
			// nothing is touched; otherwise deleting from out leaves iv intact.
			if !equalValues(out.Values(name), iv) {
				out.Del(name)
				for _, s := range iv {
					out.Add(name, s)
				}
			}
			return
		}
	}
	if v == "" {
		out.Del(name)
		return
	}
	if ov := out.Values(name); len(ov) == 1 && ov[0] == v {
		return
	}
	out.Set(name, v)
}

// setBytes sets name to b, deleting it when b is empty, and skips the
// string allocation when out already holds exactly that value.
func setBytes(out Header, name string, b []byte) {
	if len(b) == 0 {
		out.Del(name)
		return
	}
	if ov := out.Values(name); len(ov) == 1 && ov[0] == string(b) {
		return
	}
	if bs, ok := out.(BytesSetter); ok {
		bs.SetBytes(name, b)
		return
	}
	out.Set(name, string(b))
}

// BytesSetter is implemented by header types that can store a value given
// as bytes without a string allocation (the own engine's header copies it
// into per-message storage). b is only borrowed for the call.
type BytesSetter interface {
	SetBytes(name string, b []byte)
}

// ValueBuilder is implemented by header types that lend spare storage to
// build a value in, so that setting it needs neither a string allocation
// nor a buffer of the caller's (which would escape to the heap through the
// interface call). ValueBuf returns an empty slice whose capacity the
// caller appends the value into and then passes to SetBytes; the header
// must accept such a slice (it may alias its own storage) and any other
// slice the append grew into. The slice is valid until the next call of a
// method of the header that sets or adds a value.
type ValueBuilder interface {
	BytesSetter
	ValueBuf() []byte
}

// appendJoined appends the field values joined with ", " (RFC 9110 §5.3:
// a list field's lines combine into one), skipping empty values.
func appendJoined(buf []byte, values []string) []byte {
	for _, v := range values {
		v = strings.Trim(v, " \t")
		if v == "" {
			continue
		}
		if len(buf) > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, v...)
	}
	return buf
}

func equalValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// safeFieldValue reports whether s can be written inside a field value
// (and inside a quoted-string): visible ASCII, space, tab, or obs-text, no
// other control characters (RFC 9110 §5.5).
func safeFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
