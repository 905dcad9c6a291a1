package transform

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Name is the middleware's config name.
const Name = "transform"

func init() { middleware.Register(Name, New) }

// New builds the middleware from its config entry. Errors are a
// config.ErrorList at the entry: no versions, a bad version name or
// prefix, a default that is not a version, a bad header name, or nothing
// that selects a version.
//
// Per request, the version is the first that applies of: the first path
// segment (path_prefix, when it names a version; it is then removed), the
// header (which must name a version: anything else is 400), the default.
// No version at all is 400. The path is then prefixed with the version's
// backend prefix.
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	c, err := compile(cfg)
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", Name, err)}
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return &handler{next: next, c: c, log: log}
	}, nil
}

type handler struct {
	next http.Handler
	c    *compiled
	log  *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v, rest, fromPath, reason := h.c.selectVersion(r)
	if v == nil {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "transform: no API version",
			slog.String("request_id", middleware.RequestID(r)), slog.String("reason", reason))
		middleware.Refuse(w, r, http.StatusBadRequest)
		return
	}
	if h.c.header != "" && !fromPath {
		// The header chose (or could have chosen) the version: caches must
		// key on it (RFC 9110 section 12.5.5).
		addVary(w.Header(), h.c.header)
	}
	escaped := r.URL.EscapedPath()
	if !fromPath {
		rest = escaped
	}
	out := escaped
	if strings.HasPrefix(rest, "/") || rest == "" {
		// Not for "*" (OPTIONS *, RFC 9112 section 3.2.4): it names no path.
		// The rest is cleaned on its own before the prefix goes in front,
		// so "/v1/%2e%2e/admin" stays under /api/v1 (RFC 3986 section
		// 5.2.4) instead of climbing out of it.
		out = v.prefix + cleanRest(rest)
		if out == "" {
			out = "/"
		}
	}
	r2 := r
	if out != escaped || h.c.forward != "" {
		r2 = new(http.Request)
		*r2 = *r
		r2.URL = new(url.URL)
		*r2.URL = *r.URL
		protocol.SetEscapedPath(r2.URL, out)
	}
	if h.c.forward != "" {
		r2.Header = r.Header.Clone()
		r2.Header.Set(h.c.forward, v.name)
	}
	h.next.ServeHTTP(w, r2)
}

// selectVersion returns the request's version and, when the version came
// from the path (fromPath), the escaped path that remains after the
// version segment ("" for "/v1", "/x" for "/v1/x"). v is nil when no
// version applies; reason then says why (for logs). It does not modify r.
func (c *compiled) selectVersion(r *http.Request) (v *version, rest string, fromPath bool, reason string) {
	if c.pathPrefix {
		escaped := r.URL.EscapedPath()
		seg, after := escaped, ""
		if len(seg) > 0 && seg[0] == '/' {
			seg = seg[1:]
			if i := strings.IndexByte(seg, '/'); i >= 0 {
				seg, after = seg[:i], seg[i:]
			}
			if v := c.lookup(seg); v != nil {
				return v, after, true, ""
			}
		}
	}
	if c.header != "" {
		switch vals := r.Header.Values(c.header); len(vals) {
		case 0:
		case 1:
			name := strings.Trim(vals[0], " \t")
			if v := c.lookup(name); v != nil {
				return v, "", false, ""
			}
			return nil, "", false, "unknown version in " + c.header
		default:
			return nil, "", false, "more than one " + c.header
		}
	}
	if c.def != nil {
		return c.def, "", false, ""
	}
	return nil, "", false, "no version given and no default"
}

// addVary adds name to Vary unless listed or "*" is (RFC 9110 section
// 12.5.5).
func addVary(hd http.Header, name string) {
	for _, v := range hd["Vary"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.Trim(tok, " \t")
			if tok == "*" || strings.EqualFold(tok, name) {
				return
			}
		}
	}
	hd["Vary"] = append(hd["Vary"], name)
}
