package cors

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

// Name is the middleware's config name.
const Name = "cors"

func init() { middleware.Register(Name, New) }

// Response header names (Fetch standard, "HTTP responses").
const (
	hAllowOrigin      = "Access-Control-Allow-Origin"
	hAllowCredentials = "Access-Control-Allow-Credentials"
	hAllowMethods     = "Access-Control-Allow-Methods"
	hAllowHeaders     = "Access-Control-Allow-Headers"
	hExposeHeaders    = "Access-Control-Expose-Headers"
	hMaxAge           = "Access-Control-Max-Age"
	hRequestMethod    = "Access-Control-Request-Method"
	hRequestHeaders   = "Access-Control-Request-Headers"
)

// maxRequestHeaders bounds the names one preflight may ask for; a browser
// asks for a handful, a list longer than this is refused.
const maxRequestHeaders = 64

// New builds the middleware from its config entry. Errors are a
// config.ErrorList at the entry: no origins, a malformed or "null" origin,
// "*" with credentials, a bad method or header name, a negative max_age.
//
// Behaviour per request:
//   - no Origin: passed on untouched (not a CORS request), except that the
//     backend's CORS headers are removed when override_upstream is on and
//     Vary: Origin is added when the answer depends on the origin;
//   - preflight (OPTIONS with Origin and Access-Control-Request-Method):
//     answered here, never forwarded: 204 with the CORS headers when
//     origin, method and headers are allowed, otherwise 403 with
//     Gatehouse's error body and no CORS headers;
//   - actual request with Origin: forwarded; the response gets the CORS
//     headers when the origin is allowed, none otherwise.
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	p, err := compile(cfg)
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", Name, err)}
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return &handler{next: next, p: p, log: log}
	}, nil
}

type handler struct {
	next http.Handler
	p    *policy
	log  *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origins := r.Header.Values("Origin")
	if r.Method == http.MethodOptions && len(origins) > 0 && len(r.Header.Values(hRequestMethod)) > 0 {
		h.preflight(w, r, origins)
		return
	}
	// An actual request (or none at all: no Origin). More than one Origin
	// field is malformed (RFC 6454 section 7.3 allows one); it is treated
	// as an origin that is not allowed.
	rw := &responseWriter{h: h}
	rw.HeadWriter = middleware.NewHeadWriter(w, rw)
	switch {
	case !h.varies():
		// "*" without credentials: the same answer for everyone, with or
		// without Origin, so a cached copy fits every requester.
		rw.allowed = true
	case len(origins) == 1:
		if o, ok := normalizeOrigin(origins[0]); ok && h.p.originAllowed(o) {
			rw.allowed, rw.origin = true, origins[0]
		}
	}
	h.next.ServeHTTP(rw, r)
	// Nothing written: net/http sends the head after we return.
	rw.Finish()
}

// preflight answers a CORS-preflight request (Fetch standard, "CORS-
// preflight request"). It never calls the next handler.
func (h *handler) preflight(w http.ResponseWriter, r *http.Request, origins []string) {
	hd := w.Header()
	// The answer depends on all three request fields (RFC 9110 section
	// 12.5.5), whether it grants or refuses.
	addVary(hd, "Origin")
	addVary(hd, hRequestMethod)
	addVary(hd, hRequestHeaders)

	reason := ""
	origin, ok := "", len(origins) == 1
	if ok {
		origin, ok = normalizeOrigin(origins[0])
	}
	methods := r.Header.Values(hRequestMethod)
	method := methods[0]
	reqHeaders, headersOK := parseRequestHeaders(r.Header.Values(hRequestHeaders))
	switch {
	case !ok:
		reason = "malformed origin"
	case !h.p.originAllowed(origin):
		reason = "origin not allowed"
	case len(methods) != 1 || !placeholder.ValidFieldName(method):
		reason = "malformed method"
	case !h.p.methodAllowed(method):
		reason = "method not allowed"
	case !headersOK:
		reason = "malformed request headers"
	default:
		for _, rh := range reqHeaders {
			if !h.p.headerAllowed(rh) {
				reason = "header not allowed"
				break
			}
		}
	}
	if reason != "" {
		// Refused: no CORS headers, so the browser fails the preflight; the
		// 403 (rather than a bare 204) tells whoever debugs it that
		// Gatehouse decided, and why is in the debug log.
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "cors: preflight refused",
			slog.String("request_id", middleware.RequestID(r)), slog.String("reason", reason))
		middleware.Refuse(w, r, http.StatusForbidden)
		return
	}
	h.setOrigin(hd, origins[0])
	if h.p.anyMethod {
		hd.Set(hAllowMethods, method)
	} else if h.p.allowM != "" {
		hd.Set(hAllowMethods, h.p.allowM)
	}
	switch {
	case h.p.anyHeader && len(reqHeaders) > 0:
		hd.Set(hAllowHeaders, strings.Join(reqHeaders, ", "))
	case !h.p.anyHeader && h.p.allowH != "":
		hd.Set(hAllowHeaders, h.p.allowH)
	}
	if h.p.maxAge != "" {
		hd.Set(hMaxAge, h.p.maxAge)
	}
	// 204: no body, and no Content-Length (RFC 9110 section 8.6).
	w.WriteHeader(http.StatusNoContent)
}

// setOrigin writes Access-Control-Allow-Origin (and -Credentials): "*"
// only for "any origin" without credentials, otherwise the request's own
// origin, echoed as sent.
func (h *handler) setOrigin(hd http.Header, origin string) {
	if h.p.anyOrigin && !h.p.credentials {
		hd.Set(hAllowOrigin, "*")
	} else {
		hd.Set(hAllowOrigin, origin)
	}
	if h.p.credentials {
		hd.Set(hAllowCredentials, "true")
	}
}

// varies reports whether responses differ by Origin: always, except with
// "*" and no credentials, where every response says "*".
func (h *handler) varies() bool { return !h.p.anyOrigin || h.p.credentials }

// parseRequestHeaders splits Access-Control-Request-Headers (a list of
// field names, RFC 9110 section 5.6.1) into lower-case names. ok is false
// for anything that is not a list of tokens, or a list too long.
func parseRequestHeaders(values []string) (names []string, ok bool) {
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.Trim(name, " \t")
			if name == "" {
				continue // empty list elements are allowed (RFC 9110 section 5.6.1)
			}
			if !placeholder.ValidFieldName(name) || len(names) == maxRequestHeaders {
				return nil, false
			}
			names = append(names, strings.ToLower(name))
		}
	}
	return names, true
}
