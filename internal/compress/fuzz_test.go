package compress

import (
	"strings"
	"testing"
)

// refWeights is a slow, obviously-correct reading of Accept-Encoding used
// as the oracle: the weight of each coding (x-gzip = gzip, "*" for the
// rest, first mention wins, malformed weights ignore the element).
func refWeights(line string) (q map[string]int, star int, idQ int, idExplicit bool) {
	q = map[string]int{}
	star, idQ = -1, -1
	for _, elem := range strings.Split(line, ",") {
		parts := strings.Split(elem, ";")
		name := strings.ToLower(strings.Trim(parts[0], " \t"))
		if name == "" {
			continue
		}
		w, ok := 1000, true
		for _, p := range parts[1:] {
			p = strings.Trim(p, " \t")
			if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
				continue
			}
			v, good := refQ(p[2:])
			if !good {
				ok = false
				break
			}
			w = v
		}
		if !ok {
			continue
		}
		switch name {
		case "*":
			if star < 0 {
				star = w
			}
		case "identity":
			if !idExplicit {
				idExplicit, idQ = true, w
			}
		case "x-gzip":
			name = "gzip"
			fallthrough
		default:
			if _, seen := q[name]; !seen {
				q[name] = w
			}
		}
	}
	return q, star, idQ, idExplicit
}

func refQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	if len(s) == 1 {
		return int(s[0]-'0') * 1000, true
	}
	if s[1] != '.' {
		return 0, false
	}
	frac := s[2:]
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	frac = (frac + "000")[:3]
	v := int(s[0]-'0')*1000 + int(frac[0]-'0')*100 + int(frac[1]-'0')*10 + int(frac[2]-'0')
	if v > 1000 {
		return 0, false
	}
	return v, true
}

// FuzzAcceptEncoding checks Negotiate against the reference reading: the
// result is offered (or Identity), acceptable, of maximal weight, the
// earliest offered among equals, and Identity exactly when no offered
// coding is acceptable or identity is explicitly preferred.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{
		"", "gzip", "gzip, deflate, br, zstd", "br;q=0.9, gzip;q=0.8", "*", "*;q=0",
		"identity;q=0", "gzip;q=0.5, identity", "x-gzip", "zstd;q=0, *", "GZIP;Q=1.000",
		"br;q=1.001", "gzip;q=0.0001", ",,;;q=,", "gzip ; q=0.5 , br",
	} {
		f.Add(s)
	}
	offer := []Encoding{Zstd, Brotli, Gzip}
	f.Fuzz(func(t *testing.T, line string) {
		got := Negotiate([]string{line}, offer)
		q, star, idQ, idExplicit := refWeights(line)
		weight := func(e Encoding) int {
			if w, ok := q[e.String()]; ok {
				return w
			}
			if star >= 0 {
				return star
			}
			return 0
		}
		best, bestQ := Identity, 0
		for _, e := range offer {
			if w := weight(e); w > bestQ {
				best, bestQ = e, w
			}
		}
		if best != Identity && idExplicit && idQ > bestQ {
			best = Identity
		}
		if got != best {
			t.Fatalf("Negotiate(%q) = %s, reference says %s", line, got, best)
		}
		if got != Identity && weight(got) == 0 {
			t.Fatalf("Negotiate(%q) chose unacceptable %s", line, got)
		}
	})
}
