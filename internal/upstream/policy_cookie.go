package upstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

func init() {
	registerPolicy(config.PolicyCookie, newCookie)
}

// stickyMACLen is the length of the signature in a sticky cookie value:
// 22 base64url characters, 132 bits of HMAC-SHA256. RFC 2104 section 5
// allows truncating a MAC to no less than half the hash output (128 bits
// here) and no less than 80 bits.
const stickyMACLen = 22

// Cookie keeps a client on one target with a signed cookie ("sticky
// sessions"). The value is "<index>.<mac>", mac being the first 22
// characters of base64url(HMAC-SHA256(secret, target identity)), the
// identity being the target's network and address. A request whose cookie
// verifies and names an available target goes there; any other (no
// cookie, forged, from another secret, naming a target that is gone or
// unavailable) is balanced by the fallback policy and gets a fresh cookie
// through PickContext.SetCookie. Every value and Set-Cookie line is built
// at construction, so Pick does not allocate. Safe for concurrent use.
type Cookie struct {
	name     string
	fallback Policy
	// stickies holds each construction-time target's cookie by Index.
	stickies []sticky
}

// sticky is one target's identity, signed cookie value and Set-Cookie.
type sticky struct {
	network, address string
	mac              string // the part of the value after the dot
	setCookie        string
}

// newCookie builds a Cookie from opts.Upstream.Sticky and opts.Targets.
// It fails (wrapping ErrPolicySettings) without sticky settings or secret.
func newCookie(opts PolicyOptions) (Policy, error) {
	s := opts.Upstream.Sticky
	if s == nil || s.Secret == "" {
		return nil, fmt.Errorf("%w: policy cookie needs sticky settings with a secret", ErrPolicySettings)
	}
	name, fallback := s.Name, s.Fallback
	if name == "" {
		name = config.DefaultStickyCookie
	}
	if fallback == "" {
		fallback = config.DefaultPolicy
	}
	if s.MaxAge < 0 {
		return nil, fmt.Errorf("%w: sticky max_age must not be negative", ErrPolicySettings)
	}
	p := &Cookie{name: name}
	var err error
	if p.fallback, err = newFallback("sticky", fallback, opts); err != nil {
		return nil, err
	}
	n := 0
	for _, t := range opts.Targets {
		n = max(n, t.Index()+1)
	}
	p.stickies = make([]sticky, n)
	for _, t := range opts.Targets {
		i := t.Index()
		if i < 0 {
			continue
		}
		m := hmac.New(sha256.New, []byte(s.Secret))
		m.Write([]byte(t.Network() + "\x00" + t.Address()))
		mac := base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:stickyMACLen]
		line := name + "=" + strconv.Itoa(i) + "." + mac + "; Path=/; HttpOnly; SameSite=Lax"
		if secs := int64(s.MaxAge.D().Seconds()); secs > 0 {
			line += "; Max-Age=" + strconv.FormatInt(secs, 10)
		} else if s.MaxAge > 0 { // under a second: keep it, at least 1 s
			line += "; Max-Age=1"
		}
		p.stickies[i] = sticky{network: t.Network(), address: t.Address(), mac: mac, setCookie: line}
	}
	return p, nil
}

// Pick returns the target the request's valid cookie names if it is among
// targets; otherwise the fallback's choice, with pc.SetCookie set to that
// target's cookie.
func (p *Cookie) Pick(targets []*Target, pc *PickContext) *Target {
	if pc == nil {
		return p.fallback.Pick(targets, nil)
	}
	pc.SetCookie = ""
	if s := p.verify(cookieValue(pc.Header, p.name)); s != nil {
		for _, t := range targets {
			if t.Address() == s.address && t.Network() == s.network {
				return t
			}
		}
	}
	t := p.fallback.Pick(targets, pc)
	if s := p.lookup(t); s != nil {
		pc.SetCookie = s.setCookie
	}
	return t
}

// verify returns the sticky entry a cookie value names, or nil when the
// value is malformed or its signature does not match.
func (p *Cookie) verify(v string) *sticky {
	idx, mac, ok := strings.Cut(v, ".")
	if !ok || len(idx) == 0 || len(idx) > 6 {
		return nil
	}
	i := 0
	for k := 0; k < len(idx); k++ {
		c := idx[k]
		if c < '0' || c > '9' {
			return nil
		}
		i = i*10 + int(c-'0')
	}
	if i >= len(p.stickies) || p.stickies[i].mac == "" {
		return nil
	}
	s := &p.stickies[i]
	if !constantTimeEqual(mac, s.mac) {
		return nil
	}
	return s
}

// lookup returns t's sticky entry, or nil when t was not known at
// construction (it then gets no cookie: signing it would allocate).
func (p *Cookie) lookup(t *Target) *sticky {
	if i := t.Index(); i >= 0 && i < len(p.stickies) {
		if s := &p.stickies[i]; s.address == t.Address() && s.network == t.Network() {
			return s
		}
	}
	for i := range p.stickies {
		if s := &p.stickies[i]; s.address == t.Address() && s.network == t.Network() {
			return s
		}
	}
	return nil
}

// constantTimeEqual compares two strings in time that depends only on
// their lengths (the length of a valid MAC is public), so that a client
// cannot find a valid signature byte by byte by timing
// (crypto/subtle.ConstantTimeCompare over strings, without converting).
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}

// cookieValue returns the value of the first valid cookie named name in
// h's Cookie fields ("" when absent or h is nil), without allocating. It
// parses as net/http's readCookies does (the cookie-string of RFC 6265
// section 4.2.1, leniently): pairs split at ';', name and pair trimmed of
// whitespace, optional double quotes around the value removed (section
// 4.1.1), pairs whose value has a byte outside cookie-octet (plus space and
// comma, as net/http allows) skipped. Several Cookie fields (HTTP/2, RFC
// 9113 section 8.2.3) are searched in order.
func cookieValue(h protocol.Header, name string) string {
	if h == nil {
		return ""
	}
	for _, line := range h.Values("Cookie") {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			n, v, _ := strings.Cut(textproto.TrimString(pair), "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v
			}
		}
	}
	return ""
}

// validCookieValue reports whether every byte of v is allowed in a cookie
// value by net/http (validCookieValueByte).
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
