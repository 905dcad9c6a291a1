package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// refusal is how a request is turned away: the status, the challenge, and
// what the log says. err (may be nil) is for the log only; it never reaches
// the client.
type refusal struct {
	status    int
	challenge string // WWW-Authenticate value; "" for none
	reason    string // short constant text for the log
	err       error

	// passThrough, when set, is the forward auth service's own answer
	// (status, selected headers, a bounded body) relayed to the client
	// instead of Gatehouse's error body.
	passThrough *relayed
}

// relayed is an auth service's denial as relayed to the client.
type relayed struct {
	header http.Header
	body   []byte
}

// write answers the client: the relayed denial, or Gatehouse's error
// response with the challenge.
func (ref *refusal) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if ref.passThrough != nil {
		for name, vs := range ref.passThrough.header {
			h[name] = vs
		}
		h.Set("Content-Length", strconv.Itoa(len(ref.passThrough.body)))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(ref.status)
		_, _ = w.Write(ref.passThrough.body)
		return
	}
	if ref.challenge != "" {
		// RFC 9110 section 11.6.1: a 401 carries at least one challenge;
		// RFC 6750 section 3 adds it to 400 and 403 for bearer tokens.
		h.Set("WWW-Authenticate", ref.challenge)
	}
	// A refusal depends on the credentials: never stored by a shared cache
	// (no-store, RFC 9111 section 5.2.2.5).
	middleware.WriteError(w, r, ref.status)
}

// Bearer error codes, RFC 6750 section 3.1.
const (
	bearerInvalidRequest    = "invalid_request"    // 400
	bearerInvalidToken      = "invalid_token"      // 401
	bearerInsufficientScope = "insufficient_scope" // 403
)

// challenge renders `Scheme realm="realm"` followed by the extra
// parameters (name, value pairs), all as quoted strings (RFC 9110 section
// 11.2). Values come from the config (validated by checkRealm) or are
// constants, so they need no escaping.
func challenge(scheme, realm string, params ...string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(` realm="`)
	b.WriteString(realm)
	b.WriteByte('"')
	for i := 0; i+1 < len(params); i += 2 {
		b.WriteString(", ")
		b.WriteString(params[i])
		b.WriteString(`="`)
		b.WriteString(params[i+1])
		b.WriteByte('"')
	}
	return b.String()
}

// errBadRealm is returned (wrapped) for a realm that cannot be written as a
// quoted string without escaping.
var errBadRealm = errors.New(`realm must be 1 to 128 printable characters without " or \`)

// checkRealm validates a realm, returning def for "".
func checkRealm(realm, def string) (string, error) {
	if realm == "" {
		return def, nil
	}
	if len(realm) > 128 {
		return "", errBadRealm
	}
	for i := 0; i < len(realm); i++ {
		// Only visible ASCII and space: a quoted-string may hold more
		// (RFC 9110 section 5.6.4), but then clients disagree on it.
		if c := realm[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", errBadRealm
		}
	}
	return realm, nil
}

// errBadHeaderName is returned (wrapped) for a header name the config may
// not use.
var errBadHeaderName = errors.New("invalid header name")

// checkHeaderName validates a header name from the config that the
// middleware sets or removes on the request, returning its canonical form.
// Framing and connection headers, and Host, are refused (RFC 9110 section
// 7.6.1, RFC 9112 section 6).
func checkHeaderName(name string) (string, error) {
	if !placeholder.ValidFieldName(name) {
		return "", fmt.Errorf("%w %q: a header name is a token (RFC 9110 section 5.1)", errBadHeaderName, name)
	}
	cn := http.CanonicalHeaderKey(name)
	if protocol.IsServerManaged(cn) || cn == "Host" {
		return "", fmt.Errorf("%w %q: framing, connection and Host headers cannot be set", errBadHeaderName, name)
	}
	return cn, nil
}

// maxHeaderValue bounds a value the middleware puts on the upstream request
// from a token's claims or an identity.
const maxHeaderValue = 4096

// safeHeaderValue reports whether v can be sent as a field value as it is:
// no control characters but HTAB (RFC 9110 section 5.5: CR, LF and NUL are
// invalid, and the other controls are refused by common servers), and not
// longer than maxHeaderValue. Such a value is refused, not cleaned: it
// comes from a credential that was shaped to smuggle something.
func safeHeaderValue(v string) bool {
	if len(v) > maxHeaderValue {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// authorization returns the request's single Authorization field value.
// ok is false when there are several: the field is a singleton (RFC 9110
// section 11.6.2), and two values are a request shaped to confuse.
func authorization(r *http.Request) (value string, present, ok bool) {
	vs := r.Header.Values("Authorization")
	switch len(vs) {
	case 0:
		return "", false, true
	case 1:
		return vs[0], true, true
	default:
		return "", true, false
	}
}

// cutScheme splits an Authorization value into its scheme, compared
// case-insensitively with want (RFC 9110 section 11.1), and the credentials
// after one or more spaces. ok is false when the scheme is another one.
func cutScheme(value, want string) (creds string, ok bool) {
	if len(value) < len(want) || !strings.EqualFold(value[:len(want)], want) {
		return "", false
	}
	rest := value[len(want):]
	if rest == "" {
		return "", true
	}
	if rest[0] != ' ' {
		return "", false // "Basicx": another scheme
	}
	return strings.TrimLeft(rest, " "), true
}
