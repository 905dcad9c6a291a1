package compress

// accepted is a parsed Accept-Encoding field (RFC 9110 section 12.5.3).
// Weights are in thousandths (a qvalue has at most three decimals, section
// 12.4.2); -1 means "not mentioned".
type accepted struct {
	present  bool                // at least one field line was sent
	q        [numEncodings]int16 // per coding, Identity included
	star     int16               // weight of "*"
	explicit bool                // identity was named explicitly
}

// parseAccept parses the Accept-Encoding field lines without allocating.
// Lenient where the RFC leaves room: an element whose weight is not a valid
// qvalue is ignored (as if absent); codings we do not produce are skipped;
// when a coding is listed twice, the first mention counts. Tokens and the
// "q" parameter name are case-insensitive (section 8.4.1, section 12.4.2).
func parseAccept(lines []string) accepted {
	a := accepted{star: -1}
	for i := range a.q {
		a.q[i] = -1
	}
	for _, line := range lines {
		a.present = true
		for len(line) > 0 {
			var elem string
			if i := indexByte(line, ','); i >= 0 {
				elem, line = line[:i], line[i+1:]
			} else {
				elem, line = line, ""
			}
			a.element(elem)
		}
	}
	return a
}

// element records one "coding [ weight ]" list element.
func (a *accepted) element(elem string) {
	name, params := elem, ""
	if i := indexByte(elem, ';'); i >= 0 {
		name, params = elem[:i], elem[i+1:]
	}
	name = trimOWS(name)
	if name == "" {
		return // empty list elements are allowed (section 5.6.1)
	}
	q, ok := weight(params)
	if !ok {
		return
	}
	switch {
	case name == "*":
		if a.star < 0 {
			a.star = q
		}
		return
	case equalFold(name, "identity"):
		if !a.explicit {
			a.explicit = true
			a.q[Identity] = q
		}
		return
	}
	var e Encoding
	switch {
	case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
		// x-gzip is equivalent to gzip (section 8.4.1.3).
		e = Gzip
	case equalFold(name, "zstd"):
		e = Zstd
	case equalFold(name, "br"):
		e = Brotli
	default:
		return
	}
	if a.q[e] < 0 {
		a.q[e] = q
	}
}

// weight parses the parameters after a coding: nothing (q=1) or
// `q=qvalue` (section 12.4.2); other parameters are ignored. It returns
// false for a malformed weight.
func weight(params string) (int16, bool) {
	q := int16(1000)
	for len(params) > 0 {
		var p string
		if i := indexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, ""
		}
		p = trimOWS(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue
		}
		v, ok := qvalue(p[2:])
		if !ok {
			return 0, false
		}
		q = v
	}
	return q, true
}

// qvalue parses `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
// (section 12.4.2) into thousandths.
func qvalue(s string) (int16, bool) {
	if len(s) == 0 || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	v := int16(s[0]-'0') * 1000
	if len(s) == 1 {
		return v, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := int16(100)
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v += int16(c-'0') * scale
		scale /= 10
	}
	if v > 1000 {
		return 0, false
	}
	return v, true
}

// weightOf is the weight the client gives e: its own, else that of "*",
// else 0 (not acceptable).
func (a *accepted) weightOf(e Encoding) int16 {
	if a.q[e] >= 0 {
		return a.q[e]
	}
	if a.star >= 0 {
		return a.star
	}
	return 0
}

// Negotiate chooses the coding for a response from the request's
// Accept-Encoding field lines (r.Header["Accept-Encoding"], nil when
// absent) and the codings the server offers, most preferred first.
//
// Rules (RFC 9110 section 12.5.3), with Gatehouse's choices:
//   - No Accept-Encoding, or an empty one: Identity. The RFC allows any
//     coding when the field is absent, but clients that send none (curl,
//     scripts) usually cannot decode one, so we do what browsers' servers
//     do.
//   - A coding with q=0 is not acceptable; "*" gives its weight to every
//     coding not named; "x-gzip" is gzip.
//   - The acceptable offered coding with the highest weight wins; among
//     equal weights the server's order decides.
//   - Identity wins only when the client names it with a weight above the
//     best coding's ("gzip;q=0.5, identity"). When nothing offered is
//     acceptable, even if identity is excluded ("identity;q=0"), the
//     result is Identity: the RFC lets a server send an unencoded response
//     rather than 406, and a proxy refusing a finished response helps no
//     one.
//
// It does not allocate and is safe for concurrent use.
func Negotiate(lines []string, offer []Encoding) Encoding {
	if len(lines) == 0 {
		return Identity
	}
	a := parseAccept(lines)
	best, bestQ := Identity, int16(0)
	for _, e := range offer {
		if e == Identity || e >= numEncodings {
			continue
		}
		if q := a.weightOf(e); q > bestQ {
			best, bestQ = e, q
		}
	}
	if best != Identity && a.explicit && a.q[Identity] > bestQ {
		return Identity
	}
	return best
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// trimOWS removes optional whitespace (SP / HTAB, RFC 9110 section 5.6.3).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFold compares an ASCII token with a lower-case literal.
func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
