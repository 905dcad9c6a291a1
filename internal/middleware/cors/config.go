package cors

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

// Config is the middleware's settings.
type Config struct {
	// Origins allowed: exact ("https://app.example.com"), any subdomain
	// ("https://*.example.com", one or more labels, not example.com
	// itself), or "*" for any origin. Required.
	Origins config.StringList `yaml:"origins"`
	// Methods allowed in preflight (Access-Control-Allow-Methods). Default
	// GET, HEAD, POST. "*" allows any method (the requested one is echoed).
	Methods config.StringList `yaml:"methods"`
	// Headers are the request headers allowed in preflight
	// (Access-Control-Allow-Headers), case-insensitive. Default none
	// beyond the CORS-safelisted ones. "*" allows any (echoed back, so it
	// also covers Authorization and works with credentials).
	Headers config.StringList `yaml:"headers"`
	// ExposeHeaders lets scripts read these response headers
	// (Access-Control-Expose-Headers). "*" only without credentials.
	ExposeHeaders config.StringList `yaml:"expose_headers"`
	// Credentials allows cookies and HTTP authentication
	// (Access-Control-Allow-Credentials: true). Default false. Cannot be
	// combined with origins "*" (Fetch standard, CORS protocol and
	// credentials).
	Credentials bool `yaml:"credentials"`
	// MaxAge lets browsers cache a preflight answer this long
	// (Access-Control-Max-Age, whole seconds). Default 0: not sent, and
	// browsers use their own default (5 seconds).
	MaxAge config.Duration `yaml:"max_age"`
	// OverrideUpstream removes the CORS headers the backend sent before
	// adding Gatehouse's, so the two can never contradict or duplicate
	// each other. Default true.
	OverrideUpstream *bool `yaml:"override_upstream"`
}

// policy is the compiled configuration. Immutable.
type policy struct {
	anyOrigin   bool
	patterns    []originPattern
	credentials bool
	override    bool

	anyMethod bool
	methods   []string // exact (methods are case-sensitive, RFC 9110 section 9.1)
	allowM    string   // Access-Control-Allow-Methods value

	anyHeader bool
	headers   []string // lower-case
	allowH    string   // Access-Control-Allow-Headers value ("" when none)

	expose string // Access-Control-Expose-Headers value ("" when none)
	maxAge string // Access-Control-Max-Age value ("" when none)
}

// compile validates cfg.
func compile(cfg Config) (*policy, error) {
	p := &policy{credentials: cfg.Credentials, override: cfg.OverrideUpstream == nil || *cfg.OverrideUpstream}
	if len(cfg.Origins) == 0 {
		return nil, fmt.Errorf("origins is required")
	}
	for i, o := range cfg.Origins {
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		pat, err := parsePattern(o)
		if err != nil {
			return nil, fmt.Errorf("origins[%d]: %w", i, err)
		}
		p.patterns = append(p.patterns, pat)
	}
	if p.anyOrigin && p.credentials {
		// Fetch standard, "CORS protocol and credentials": a credentialed
		// response must name the origin; browsers reject "*".
		return nil, fmt.Errorf(`origins "*" cannot be used with credentials: true; list the origins (wildcard subdomains are fine)`)
	}
	if p.anyOrigin && len(p.patterns) > 0 {
		return nil, fmt.Errorf(`origins "*" already allows every origin; remove the others`)
	}

	methods := []string(cfg.Methods)
	if len(methods) == 0 {
		methods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	}
	for i, m := range methods {
		if m == "*" {
			p.anyMethod = true
			continue
		}
		if !placeholder.ValidFieldName(m) { // a method is a token (RFC 9110 section 9.1)
			return nil, fmt.Errorf("methods[%d]: %q is not a method name", i, m)
		}
		if !slices.Contains(p.methods, m) {
			p.methods = append(p.methods, m)
		}
	}
	p.allowM = strings.Join(p.methods, ", ")

	for i, h := range cfg.Headers {
		if h == "*" {
			p.anyHeader = true
			continue
		}
		if !placeholder.ValidFieldName(h) {
			return nil, fmt.Errorf("headers[%d]: %q is not a header name", i, h)
		}
		if lh := strings.ToLower(h); !slices.Contains(p.headers, lh) {
			p.headers = append(p.headers, lh)
		}
	}
	p.allowH = strings.Join(p.headers, ", ")

	var expose []string
	for i, h := range cfg.ExposeHeaders {
		if h == "*" {
			if p.credentials {
				// With credentials "*" is a literal header name to browsers.
				return nil, fmt.Errorf(`expose_headers "*" does not work with credentials: true; list the headers`)
			}
			expose = append(expose, h)
			continue
		}
		if !placeholder.ValidFieldName(h) {
			return nil, fmt.Errorf("expose_headers[%d]: %q is not a header name", i, h)
		}
		expose = append(expose, http.CanonicalHeaderKey(h))
	}
	p.expose = strings.Join(expose, ", ")

	switch d := cfg.MaxAge.D(); {
	case d < 0:
		return nil, fmt.Errorf("max_age must not be negative")
	case d > 0:
		p.maxAge = strconv.FormatInt(int64((d+999_999_999)/1_000_000_000), 10)
	}
	return p, nil
}

// originAllowed reports whether a normalised request origin is allowed.
func (p *policy) originAllowed(origin string) bool {
	if p.anyOrigin {
		return true
	}
	for i := range p.patterns {
		if p.patterns[i].match(origin) {
			return true
		}
	}
	return false
}

// methodAllowed follows the browser's check (Fetch standard, CORS-preflight
// fetch step 7): a CORS-safelisted method needs no permission.
func (p *policy) methodAllowed(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true
	}
	return p.anyMethod || slices.Contains(p.methods, m)
}

// headerAllowed reports whether a (lower-case) requested header is allowed.
func (p *policy) headerAllowed(h string) bool {
	return p.anyHeader || slices.Contains(p.headers, h)
}
