package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Sentinels for claim checks (logged, never sent).
var (
	errUnsafeClaim  = errors.New("claim value cannot be sent as a header")
	errMissingClaim = errors.New("required claim missing")
)

// claimHeader maps one claim to one upstream request header.
type claimHeader struct {
	claim  string
	header string // canonical
}

func compileClaimHeaders(m map[string]string) ([]claimHeader, error) {
	out := make([]claimHeader, 0, len(m))
	seen := map[string]string{}
	for claim, header := range m {
		if claim == "" {
			return nil, errors.New("claims_to_headers: empty claim name")
		}
		h, err := checkHeaderName(header)
		if err != nil {
			return nil, fmt.Errorf("claims_to_headers.%s: %w", claim, err)
		}
		if h == "Authorization" {
			return nil, fmt.Errorf("claims_to_headers.%s: Authorization carries the credentials and cannot be set from a claim", claim)
		}
		if other, dup := seen[h]; dup {
			return nil, fmt.Errorf("claims_to_headers: %s and %s both set %s", other, claim, h)
		}
		seen[h] = claim
		out = append(out, claimHeader{claim: claim, header: h})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].header < out[j].header })
	return out, nil
}

// claimsToHeaders renders the mapped claims; an absent claim sets no header.
// A value that cannot travel safely is an error wrapping errUnsafeClaim.
func claimsToHeaders(claims map[string]any, mapping []claimHeader) (http.Header, error) {
	if len(mapping) == 0 {
		return nil, nil
	}
	h := make(http.Header, len(mapping))
	for _, m := range mapping {
		v, ok := lookupClaim(claims, m.claim)
		if !ok || v == nil {
			continue
		}
		s, ok := renderClaim(v)
		if !ok {
			return nil, fmt.Errorf("%w: %s", errUnsafeClaim, m.claim)
		}
		h[m.header] = []string{s}
	}
	return h, nil
}

// lookupClaim finds a claim by its exact name first (names like
// "https://example.com/roles" hold dots), then as a dotted path into
// nested objects.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// renderClaim writes a claim as a header value: strings as they are,
// numbers and booleans in JSON form, lists of scalars joined with ",",
// anything else as compact JSON. ok is false when the result would carry a
// control character (CR, LF, NUL: header injection) or exceed
// maxHeaderValue.
func renderClaim(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = fmt.Sprint(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any, nil:
				return renderJSON(v)
			}
			p, ok := renderClaim(e)
			if !ok {
				return "", false
			}
			parts = append(parts, p)
		}
		s = strings.Join(parts, ",")
	default:
		return renderJSON(v)
	}
	return s, safeHeaderValue(s)
}

func renderJSON(v any) (string, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	// json.Marshal escapes control characters, so only the length can fail.
	return string(b), safeHeaderValue(string(b))
}

// requiredClaim is one claim and the values it must hold.
type requiredClaim struct {
	claim  string
	values []string
}

func compileRequired(m map[string]config.StringList) ([]requiredClaim, error) {
	out := make([]requiredClaim, 0, len(m))
	for claim, values := range m {
		if claim == "" || len(values) == 0 {
			return nil, fmt.Errorf("required_claims: %q needs a claim name and at least one value", claim)
		}
		out = append(out, requiredClaim{claim: claim, values: values})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].claim < out[j].claim })
	return out, nil
}

// checkRequired returns an error wrapping errMissingClaim unless every
// required value is held by its claim.
func checkRequired(claims map[string]any, required []requiredClaim) error {
	for _, rc := range required {
		v, ok := lookupClaim(claims, rc.claim)
		if !ok {
			return fmt.Errorf("%w: %s", errMissingClaim, rc.claim)
		}
		for _, want := range rc.values {
			if !claimHolds(rc.claim, v, want) {
				return fmt.Errorf("%w: %s lacks %q", errMissingClaim, rc.claim, want)
			}
		}
	}
	return nil
}

// claimHolds reports whether claim value v holds want: equal to a string
// (or to a number or boolean in JSON form), an element of a list, or, for
// "scope" and "scp", one of the space-separated scopes (RFC 8693 section
// 4.2, RFC 9068 section 2.2.3).
func claimHolds(name string, v any, want string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	switch x := v.(type) {
	case string:
		if last == "scope" || last == "scp" {
			return slices.Contains(strings.Fields(x), want)
		}
		return x == want
	case []any:
		for _, e := range x {
			if claimHolds("", e, want) {
				return true
			}
		}
		return false
	case json.Number:
		return x.String() == want
	case bool:
		return fmt.Sprint(x) == want
	}
	return false
}
