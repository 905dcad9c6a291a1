package cache

import (
	"net/http"
	"strconv"
	"strings"
)

// maxDelta is the largest delta-seconds value kept: RFC 9111 §1.2.2 says a
// larger value (or one that overflows) is to be taken as 2^31.
const maxDelta = 1 << 31

// Directives is a parsed Cache-Control field (RFC 9111 §5.2), request or
// response. Durations are in seconds; -1 means the directive is absent.
// The zero value is not "absent": use ParseCacheControl.
type Directives struct {
	MaxAge, SMaxAge, MinFresh, MaxStale int64
	// StaleWhileRevalidate and StaleIfError are RFC 5861's extensions.
	StaleWhileRevalidate, StaleIfError int64
	// MaxStaleAny is a max-stale without a value: any staleness accepted
	// (RFC 9111 §5.2.1.2).
	MaxStaleAny bool

	NoCache, NoStore, NoTransform, OnlyIfCached     bool
	MustRevalidate, ProxyRevalidate, MustUnderstand bool
	Public, Private, Immutable                      bool

	// NoCacheFields and PrivateFields are the field names of the
	// qualified forms no-cache="a, b" and private="a" (RFC 9111 §5.2.2.4,
	// §5.2.2.7), canonicalised. When present, NoCache/Private are false:
	// the qualified form restricts only those fields.
	NoCacheFields, PrivateFields []string
}

// ParseCacheControl parses every Cache-Control field line in values. It
// never fails: unknown directives are ignored (§5.2.3), and a malformed
// value of max-age or s-maxage counts as 0 (stale), as §4.2.1 encourages;
// a malformed value of another directive leaves it absent. When a
// duration directive repeats, the smallest value wins (the most
// restrictive, §4.2.1). It allocates only for qualified field lists.
func ParseCacheControl(values []string) Directives {
	d := Directives{MaxAge: -1, SMaxAge: -1, MinFresh: -1, MaxStale: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
	for _, v := range values {
		for len(v) > 0 {
			var name, val string
			var quoted, hasVal bool
			name, val, quoted, hasVal, v = nextDirective(v)
			if name == "" {
				continue
			}
			d.apply(name, val, quoted, hasVal)
		}
	}
	return d
}

// nextDirective splits the first directive off s (RFC 9111 §5.2:
// token [ "=" ( token / quoted-string ) ], separated by commas with
// optional whitespace). Commas inside a quoted string do not separate.
func nextDirective(s string) (name, val string, quoted, hasVal bool, rest string) {
	s = trimOWS(s)
	i := 0
	for i < len(s) && s[i] != ',' && s[i] != '=' {
		i++
	}
	name = trimOWS(s[:i])
	if i == len(s) {
		return name, "", false, false, ""
	}
	if s[i] == ',' {
		return name, "", false, false, s[i+1:]
	}
	// s[i] == '='
	s = trimOWS(s[i+1:])
	hasVal = true
	if len(s) > 0 && s[0] == '"' {
		quoted = true
		j := 1
		escaped := false
		for j < len(s) {
			c := s[j]
			if c == '\\' {
				escaped = true
				j += 2
				continue
			}
			if c == '"' {
				break
			}
			j++
		}
		if j > len(s) {
			j = len(s)
		}
		val = s[1:j]
		if escaped {
			val = unescape(val)
		}
		if j < len(s) {
			j++ // closing quote
		}
		rest = s[j:]
		// Skip anything up to the next comma (garbage after the quote).
		if k := strings.IndexByte(rest, ','); k >= 0 {
			rest = rest[k+1:]
		} else {
			rest = ""
		}
		return name, val, quoted, hasVal, rest
	}
	j := strings.IndexByte(s, ',')
	if j < 0 {
		return name, trimOWS(s), false, true, ""
	}
	return name, trimOWS(s[:j]), false, true, s[j+1:]
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func (d *Directives) apply(name, val string, quoted, hasVal bool) {
	switch {
	case strings.EqualFold(name, "max-age"):
		setMin(&d.MaxAge, deltaOrZero(val, hasVal))
	case strings.EqualFold(name, "s-maxage"):
		setMin(&d.SMaxAge, deltaOrZero(val, hasVal))
	case strings.EqualFold(name, "min-fresh"):
		if n, ok := delta(val); ok && hasVal {
			setMin(&d.MinFresh, n)
		}
	case strings.EqualFold(name, "max-stale"):
		if !hasVal {
			d.MaxStaleAny = true
		} else if n, ok := delta(val); ok {
			setMin(&d.MaxStale, n)
		}
	case strings.EqualFold(name, "stale-while-revalidate"):
		if n, ok := delta(val); ok && hasVal {
			setMin(&d.StaleWhileRevalidate, n)
		}
	case strings.EqualFold(name, "stale-if-error"):
		if n, ok := delta(val); ok && hasVal {
			setMin(&d.StaleIfError, n)
		}
	case strings.EqualFold(name, "no-cache"):
		if hasVal && quoted {
			d.NoCacheFields = appendFields(d.NoCacheFields, val)
		} else {
			// An unquoted argument is invalid (§5.2.2.4 requires the
			// quoted form); the most restrictive reading is the bare one.
			d.NoCache = true
		}
	case strings.EqualFold(name, "private"):
		if hasVal && quoted {
			d.PrivateFields = appendFields(d.PrivateFields, val)
		} else {
			d.Private = true
		}
	case strings.EqualFold(name, "no-store"):
		d.NoStore = true
	case strings.EqualFold(name, "no-transform"):
		d.NoTransform = true
	case strings.EqualFold(name, "only-if-cached"):
		d.OnlyIfCached = true
	case strings.EqualFold(name, "must-revalidate"):
		d.MustRevalidate = true
	case strings.EqualFold(name, "proxy-revalidate"):
		d.ProxyRevalidate = true
	case strings.EqualFold(name, "must-understand"):
		d.MustUnderstand = true
	case strings.EqualFold(name, "public"):
		d.Public = true
	case strings.EqualFold(name, "immutable"):
		d.Immutable = true
	}
	// The bare form wins over a qualified one: it restricts more.
	if d.NoCache {
		d.NoCacheFields = nil
	}
	if d.Private {
		d.PrivateFields = nil
	}
}

func setMin(p *int64, n int64) {
	if *p < 0 || n < *p {
		*p = n
	}
}

// delta parses delta-seconds (RFC 9111 §1.2.2): digits only, capped at 2^31.
func delta(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta), true
}

func deltaOrZero(s string, hasVal bool) int64 {
	if n, ok := delta(s); ok && hasVal {
		return n
	}
	return 0
}

// appendFields adds the comma-separated field names of list, canonical,
// skipping empty and duplicate ones.
func appendFields(dst []string, list string) []string {
	for f := range strings.SplitSeq(list, ",") {
		f = trimOWS(f)
		if f == "" || !validToken(f) {
			continue
		}
		f = http.CanonicalHeaderKey(f)
		dup := false
		for _, g := range dst {
			if g == f {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, f)
		}
	}
	return dst
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// String renders d canonically; ParseCacheControl of the result gives d
// back (the fuzz test checks this round trip).
func (d Directives) String() string {
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	num := func(name string, n int64) {
		if n >= 0 {
			add(name + "=" + strconv.FormatInt(n, 10))
		}
	}
	flag := func(name string, on bool) {
		if on {
			add(name)
		}
	}
	num("max-age", d.MaxAge)
	num("s-maxage", d.SMaxAge)
	num("min-fresh", d.MinFresh)
	num("max-stale", d.MaxStale)
	flag("max-stale", d.MaxStaleAny)
	num("stale-while-revalidate", d.StaleWhileRevalidate)
	num("stale-if-error", d.StaleIfError)
	flag("no-cache", d.NoCache)
	if len(d.NoCacheFields) > 0 {
		add(`no-cache="` + strings.Join(d.NoCacheFields, ", ") + `"`)
	}
	flag("private", d.Private)
	if len(d.PrivateFields) > 0 {
		add(`private="` + strings.Join(d.PrivateFields, ", ") + `"`)
	}
	flag("no-store", d.NoStore)
	flag("no-transform", d.NoTransform)
	flag("only-if-cached", d.OnlyIfCached)
	flag("must-revalidate", d.MustRevalidate)
	flag("proxy-revalidate", d.ProxyRevalidate)
	flag("must-understand", d.MustUnderstand)
	flag("public", d.Public)
	flag("immutable", d.Immutable)
	return b.String()
}
