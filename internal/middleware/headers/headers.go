package headers

import (
	"errors"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

// Name is the middleware's config name.
const Name = "headers"

func init() { middleware.Register(Name, New) }

// New builds the middleware from its config entry. Errors are a
// config.ErrorList placed at the entry: an invalid header name, a framing or
// hop-by-hop header (Content-Length, Transfer-Encoding, Connection, ...), a
// bad placeholder, or Host anywhere but request.set (which sets r.Host).
//
// The request is edited in place: it belongs to this route's chain. The
// response writer is wrapped only when there are response edits.
func New(spec config.MiddlewareSpec, _ middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	req, err := compile(cfg.Request, "request")
	if err != nil {
		return nil, positioned(spec, err)
	}
	resp, err := compile(cfg.Response, "response")
	if err != nil {
		return nil, positioned(spec, err)
	}
	return func(next http.Handler) http.Handler {
		if req.empty() && resp.empty() {
			return next
		}
		return &handler{next: next, req: req, resp: resp}
	}, nil
}

func positioned(spec config.MiddlewareSpec, err error) error {
	hint := ""
	var pe *placeholder.Error
	if errors.As(err, &pe) {
		hint = pe.Hint
	}
	return config.ErrorList{config.Errorf(spec.Pos(), hint, "%s: %v", Name, err)}
}

type handler struct {
	next      http.Handler
	req, resp *compiled
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.req.empty() {
		applyRequest(h.req, r)
	}
	if h.resp.empty() {
		h.next.ServeHTTP(w, r)
		return
	}
	rw := &responseWriter{req: r, edits: h.resp}
	rw.HeadWriter = middleware.NewHeadWriter(w, rw)
	h.next.ServeHTTP(rw, r)
	// The handler wrote nothing: net/http sends a 200 head with the header
	// map after we return, so edit it now.
	rw.Finish()
}

func applyRequest(c *compiled, r *http.Request) {
	apply(c, r.Header, r)
	if c.host != nil {
		// net/http keeps the Host header in r.Host, not in r.Header
		// (RFC 9112 section 3.2); the proxy sends r.Host upstream.
		if v := sanitize(c.host.Render(r)); v != "" {
			r.Host = v
		}
	}
}

// apply edits hdr in the order remove, set, add. Values render against r.
func apply(c *compiled, hdr http.Header, r *http.Request) {
	for _, name := range c.remove {
		delete(hdr, name)
	}
	for i := range c.set {
		e := &c.set[i]
		hdr[e.name] = []string{render(e, r)}
	}
	for i := range c.add {
		e := &c.add[i]
		hdr[e.name] = append(hdr[e.name], render(e, r))
	}
}

func render(e *edit, r *http.Request) string {
	if e.value.IsStatic() {
		return e.value.Render(r) // validated at compile time
	}
	return sanitize(e.value.Render(r))
}

// sanitize replaces CR, LF and NUL that request data (a decoded
// {query.NAME}) may carry with SP, as RFC 9110 section 5.5 allows a
// recipient to do, so a rendered value can never split a header. Other
// control characters are replaced too: they are not field-vchar.
func sanitize(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if c := b[j]; (c < 0x20 && c != '\t') || c == 0x7f {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return v
}
