package action

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

// redirect answers every request with a redirect to a rendered target.
type redirect struct {
	to     placeholder.Template
	status int
	// schemeRelative is true when the operator wrote a target starting
	// with "//" (a scheme-relative URL on purpose).
	schemeRelative bool
}

// NewRedirect builds the redirect action. cfg.To may use placeholders
// ({path}, {query}, {uri}, {host}, {scheme}, ...); cfg.Status is 301, 302,
// 303, 307 or 308, 0 meaning 302. Errors wrap ErrConfig (and
// placeholder.ErrInvalid for a bad template).
//
// A target that renders to "//host..." or "/\host..." because of request
// data (a path like "//evil.example") is collapsed to a single leading
// '/', so request data can never turn a local redirect into one to another
// site (RFC 3986 section 4.2: "//" starts an authority). Control
// characters rendered from request data are percent-encoded.
func NewRedirect(cfg config.Redirect) (http.Handler, error) {
	status := cfg.Status
	if status == 0 {
		status = http.StatusFound
	}
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, fmt.Errorf("%w: redirect status %d is not one of 301, 302, 303, 307, 308", ErrConfig, cfg.Status)
	}
	if cfg.To == "" {
		return nil, fmt.Errorf("%w: redirect needs a target (to)", ErrConfig)
	}
	if strings.ContainsAny(cfg.To, "\r\n\x00") {
		return nil, fmt.Errorf("%w: redirect target contains CR, LF or NUL", ErrConfig)
	}
	to, err := placeholder.Compile(cfg.To)
	if err != nil {
		return nil, fmt.Errorf("%w: redirect target: %w", ErrConfig, err)
	}
	return &redirect{to: to, status: status, schemeRelative: to.StartsWithLiteral("//")}, nil
}

func (h *redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	loc := h.to.Render(r)
	if !h.to.IsStatic() {
		if !h.schemeRelative {
			loc = noAuthority(loc)
		}
		loc = escapeControls(loc)
	}
	w.Header().Set("Location", loc)
	// RFC 9110 section 15.4: the body is optional; an empty one is enough.
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(h.status)
}

// noAuthority collapses a leading run of '/' and '\' to one '/': browsers
// read "//host" and "/\host" as another site.
func noAuthority(loc string) string {
	if len(loc) < 2 || !isSlash(loc[0]) || !isSlash(loc[1]) {
		return loc
	}
	i := 0
	for i < len(loc) && isSlash(loc[i]) {
		i++
	}
	return "/" + loc[i:]
}

func isSlash(c byte) bool { return c == '/' || c == '\\' }

// escapeControls percent-encodes control characters and spaces, which are
// not allowed in a URI (RFC 3986 section 2).
func escapeControls(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == 0x7f {
			var b strings.Builder
			for j := 0; j < len(s); j++ {
				if c := s[j]; c <= 0x20 || c == 0x7f {
					fmt.Fprintf(&b, "%%%02X", c)
					continue
				}
				b.WriteByte(s[j])
			}
			return b.String()
		}
	}
	return s
}
