package transform

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Config is the middleware's settings.
type Config struct {
	// Versions maps a version name ("v1": letters, digits, '.', '_', '-')
	// to the backend path prefix serving it ("/api/v1"; "/" for none).
	// Required.
	Versions map[string]string `yaml:"versions"`
	// PathPrefix takes the version from the first path segment when it is
	// a version name: "/v1/users" → version v1, remaining path "/users".
	// Default false.
	PathPrefix bool `yaml:"path_prefix"`
	// Header names a request header carrying the version
	// ("Accept-Version"). Default "": no header is read. A path prefix
	// wins over the header.
	Header string `yaml:"header"`
	// Default is the version of a request that names none. Default "": such
	// a request is refused with 400.
	Default string `yaml:"default"`
	// ForwardHeader, when set, is a request header set to the chosen
	// version for the backend ("X-API-Version"). Default "": none.
	ForwardHeader string `yaml:"forward_header"`
}

// version is one compiled version.
type version struct {
	name   string
	prefix string // escaped, no trailing '/'; "" for none
}

// compiled is the validated configuration. Immutable.
type compiled struct {
	versions   []version // sorted by name
	pathPrefix bool
	header     string // canonical; "" when not read
	def        *version
	forward    string // canonical; "" when not set
}

func compile(cfg Config) (*compiled, error) {
	c := &compiled{pathPrefix: cfg.PathPrefix}
	if len(cfg.Versions) == 0 {
		return nil, fmt.Errorf("versions is required")
	}
	for name, p := range cfg.Versions {
		if !validVersion(name) {
			return nil, fmt.Errorf("versions: %q is not a version name (letters, digits, '.', '_', '-')", name)
		}
		esc, err := prefix(p)
		if err != nil {
			return nil, fmt.Errorf("versions.%s: %w", name, err)
		}
		c.versions = append(c.versions, version{name: name, prefix: esc})
	}
	slices.SortFunc(c.versions, func(a, b version) int { return strings.Compare(a.name, b.name) })
	var err error
	if c.header, err = headerName(cfg.Header, "header"); err != nil {
		return nil, err
	}
	if c.forward, err = headerName(cfg.ForwardHeader, "forward_header"); err != nil {
		return nil, err
	}
	if !c.pathPrefix && c.header == "" && cfg.Default == "" {
		return nil, fmt.Errorf("nothing selects a version: set path_prefix, header or default")
	}
	if cfg.Default != "" {
		v := c.lookup(cfg.Default)
		if v == nil {
			return nil, fmt.Errorf("default %q is not one of versions", cfg.Default)
		}
		c.def = v
	}
	return c, nil
}

// lookup returns the version named name, or nil.
func (c *compiled) lookup(name string) *version {
	i, ok := slices.BinarySearchFunc(c.versions, name, func(v version, n string) int { return strings.Compare(v.name, n) })
	if !ok {
		return nil
	}
	return &c.versions[i]
}

func validVersion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return s != "." && s != ".."
}

func headerName(name, field string) (string, error) {
	if name == "" {
		return "", nil
	}
	if !placeholder.ValidFieldName(name) {
		return "", fmt.Errorf("%s: %q is not a valid header name", field, name)
	}
	cn := http.CanonicalHeaderKey(name)
	if protocol.IsServerManaged(cn) || cn == "Host" {
		return "", fmt.Errorf("%s: %s is a framing, hop-by-hop or Host header", field, cn)
	}
	return cn, nil
}

// prefix validates a backend path prefix and returns it escaped, without a
// trailing slash ("/" becomes "").
func prefix(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%q must start with '/'", p)
	}
	if strings.ContainsAny(p, "?#") || strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", fmt.Errorf("%q must be a plain path (no '?', '#' or control characters)", p)
	}
	if p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
		return "", fmt.Errorf("%q has empty or dot segments", p)
	}
	return (&url.URL{Path: strings.TrimSuffix(p, "/")}).EscapedPath(), nil
}
