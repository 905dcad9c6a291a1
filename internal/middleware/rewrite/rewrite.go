package rewrite

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Name is the middleware's config name.
const Name = "rewrite"

func init() { middleware.Register(Name, New) }

// Config is the middleware's settings. Steps run in the order strip_prefix,
// regex, add_prefix; each is optional.
type Config struct {
	// StripPrefix removes a leading path prefix on a segment boundary:
	// "/api" turns "/api/x" into "/x" and "/api" into "/", leaves "/apix".
	StripPrefix string `yaml:"strip_prefix"`
	// AddPrefix is put in front of the path ("/v2" turns "/x" into "/v2/x").
	AddPrefix string `yaml:"add_prefix"`
	// Regex replaces matches in the escaped path (as sent on the wire, so a
	// space is "%20"). Replace may use $1, ${name}.
	Regex *Regex `yaml:"regex"`
}

// Regex is a replacement on the escaped path (RE2 syntax).
type Regex struct {
	Pattern string `yaml:"pattern"`
	Replace string `yaml:"replace"`
}

// Rewriter is a compiled rewrite. It is immutable and safe for concurrent
// use.
type Rewriter struct {
	strip   string // escaped, no trailing '/'; "" when not stripping
	add     string // escaped, no trailing '/'; "" when not adding
	re      *regexp.Regexp
	replace string
}

// New builds the middleware from its config entry; errors are a
// config.ErrorList at the entry (a prefix not starting with '/', a bad
// regex, a replacement naming a group the pattern lacks).
func New(spec config.MiddlewareSpec, _ middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	rw, err := Compile(cfg)
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", Name, err)}
	}
	return rw.Middleware, nil
}

// Compile validates cfg and returns the rewriter.
func Compile(cfg Config) (*Rewriter, error) {
	rw := &Rewriter{}
	var err error
	if rw.strip, err = prefix(cfg.StripPrefix, "strip_prefix"); err != nil {
		return nil, err
	}
	if rw.add, err = prefix(cfg.AddPrefix, "add_prefix"); err != nil {
		return nil, err
	}
	if cfg.Regex != nil {
		if cfg.Regex.Pattern == "" {
			return nil, fmt.Errorf("regex.pattern is empty")
		}
		if rw.re, err = regexp.Compile(cfg.Regex.Pattern); err != nil {
			return nil, fmt.Errorf("regex.pattern: %w", err)
		}
		if err := checkGroups(rw.re, cfg.Regex.Replace); err != nil {
			return nil, err
		}
		rw.replace = cfg.Regex.Replace
	}
	if rw.strip == "" && rw.add == "" && rw.re == nil {
		return nil, fmt.Errorf("nothing to do: set strip_prefix, regex or add_prefix")
	}
	return rw, nil
}

// prefix validates a configured prefix and returns it escaped, without a
// trailing slash ("/" becomes "", a no-op).
func prefix(p, field string) (string, error) {
	if p == "" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%s %q must start with '/'", field, p)
	}
	if strings.ContainsAny(p, "?#") || strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", fmt.Errorf("%s %q must be a plain path (no '?', '#' or control characters)", field, p)
	}
	if path.Clean(p) != strings.TrimSuffix(p, "/") && p != "/" {
		return "", fmt.Errorf("%s %q has empty or dot segments", field, p)
	}
	return (&url.URL{Path: strings.TrimSuffix(p, "/")}).EscapedPath(), nil
}

var groupRef = regexp.MustCompile(`\$(\d+|\{(\w+)\})`)

// checkGroups refuses a replacement naming a group the pattern lacks,
// which would silently expand to "".
func checkGroups(re *regexp.Regexp, repl string) error {
	for _, m := range groupRef.FindAllStringSubmatch(repl, -1) {
		ref := m[1]
		if m[2] != "" {
			ref = m[2]
		}
		if n, err := strconv.Atoi(ref); err == nil {
			if n > re.NumSubexp() {
				return fmt.Errorf("regex.replace uses $%d but the pattern has %d groups", n, re.NumSubexp())
			}
			continue
		}
		if re.SubexpIndex(ref) < 0 {
			return fmt.Errorf("regex.replace uses ${%s} but the pattern has no group of that name", ref)
		}
	}
	return nil
}

// Middleware applies the rewrite to each request, on a shallow copy of the
// request and its URL (as http.StripPrefix does), keeping the query.
func (rw *Rewriter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		escaped := r.URL.EscapedPath()
		out := rw.Rewrite(escaped)
		if out == escaped {
			next.ServeHTTP(w, r)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = new(url.URL)
		*r2.URL = *r.URL
		protocol.SetEscapedPath(r2.URL, out)
		next.ServeHTTP(w, r2)
	})
}

// Rewrite returns the rewritten form of an escaped path. The result always
// starts with '/'.
func (rw *Rewriter) Rewrite(escaped string) string {
	p := escaped
	if rw.strip != "" {
		if p == rw.strip {
			p = "/"
		} else if strings.HasPrefix(p, rw.strip) && p[len(rw.strip)] == '/' {
			p = p[len(rw.strip):]
		}
	}
	if rw.re != nil {
		p = rw.re.ReplaceAllString(p, rw.replace)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if rw.add != "" {
		p = rw.add + p
	}
	return p
}
