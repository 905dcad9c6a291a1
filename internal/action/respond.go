package action

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// respond answers every request with the same status and body.
type respond struct {
	status  int
	body    string
	length  string
	headers []respondHeader
}

type respondHeader struct {
	name  string // canonical
	value placeholder.Template
}

// NewRespond builds the fixed-response action: cfg.Status (0 means 200,
// otherwise 200-599), cfg.Body as is, cfg.Headers whose values may use
// placeholders. Content-Type defaults to "text/plain; charset=utf-8" when
// there is a body. HEAD gets the headers without the body. Errors wrap
// ErrConfig: a 1xx status, a body on 204 or 304, a framing or hop-by-hop
// header, a bad header name or template.
func NewRespond(cfg config.Respond) (http.Handler, error) {
	h := &respond{status: cfg.Status, body: cfg.Body, length: strconv.Itoa(len(cfg.Body))}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	if h.status < 200 || h.status > 599 {
		// 1xx are interim responses and cannot end an exchange (RFC 9110
		// section 15.2).
		return nil, fmt.Errorf("%w: respond status %d is not a final status (200-599)", ErrConfig, cfg.Status)
	}
	if cfg.Body != "" && (h.status == http.StatusNoContent || h.status == http.StatusNotModified) {
		// RFC 9110 sections 15.3.5 and 15.4.5: no content.
		return nil, fmt.Errorf("%w: respond status %d cannot have a body", ErrConfig, h.status)
	}
	hasType := false
	for name, value := range cfg.Headers {
		if !placeholder.ValidFieldName(name) {
			return nil, fmt.Errorf("%w: respond header %q is not a valid header name", ErrConfig, name)
		}
		cn := http.CanonicalHeaderKey(name)
		if protocol.IsServerManaged(cn) {
			return nil, fmt.Errorf("%w: respond header %s is set by the server and cannot be configured", ErrConfig, cn)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("%w: respond header %s: value contains CR, LF or NUL", ErrConfig, cn)
		}
		t, err := placeholder.Compile(value)
		if err != nil {
			return nil, fmt.Errorf("%w: respond header %s: %w", ErrConfig, cn, err)
		}
		hasType = hasType || cn == "Content-Type"
		h.headers = append(h.headers, respondHeader{name: cn, value: t})
	}
	slices.SortFunc(h.headers, func(a, b respondHeader) int { return strings.Compare(a.name, b.name) })
	if !hasType && h.body != "" {
		h.headers = append(h.headers, respondHeader{name: "Content-Type",
			value: placeholder.MustCompile("text/plain; charset=utf-8")})
	}
	return h, nil
}

func (h *respond) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for i := range h.headers {
		e := &h.headers[i]
		v := e.value.Render(r)
		if !e.value.IsStatic() {
			v = cleanValue(v)
		}
		hdr[e.name] = []string{v}
	}
	if h.status != http.StatusNoContent && h.status != http.StatusNotModified {
		hdr["Content-Length"] = []string{h.length}
	}
	w.WriteHeader(h.status)
	if r.Method != http.MethodHead && h.body != "" {
		io.WriteString(w, h.body)
	}
}
