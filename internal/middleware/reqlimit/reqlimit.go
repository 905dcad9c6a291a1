package reqlimit

import (
	"log/slog"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// Names under which the middleware is registered: the config spelling and
// the hyphenated alias (as body_limit has).
const (
	Name  = "request_limits"
	Alias = "request-limits"
)

func init() {
	middleware.Register(Name, New)
	middleware.Register(Alias, New)
}

// Check returns the status a request gets from these limits, 0 when it
// passes, and which limit refused it (for logs). It does not allocate.
func (l *Limits) Check(r *http.Request) (status int, limit string) {
	if l.urlBytes > 0 && int64(targetLen(r)) > l.urlBytes {
		// RFC 9110 section 15.5.15.
		return http.StatusRequestURITooLong, "max_url_bytes"
	}
	if l.params > 0 && int64(countParams(r.URL.RawQuery)) > l.params {
		// RFC 9110 section 15.5.1: a request the server will not process.
		return http.StatusBadRequest, "max_query_params"
	}
	if l.headers > 0 || l.headerBytes > 0 {
		n, size := headerStats(r)
		if l.headers > 0 && n > l.headers {
			// RFC 6585 section 5.
			return http.StatusRequestHeaderFieldsTooLarge, "max_headers"
		}
		if l.headerBytes > 0 && size > l.headerBytes {
			return http.StatusRequestHeaderFieldsTooLarge, "max_header_bytes"
		}
	}
	return 0, ""
}

// targetLen is the length of the request target as received; for a
// request built in code, that of the URL's path and query.
func targetLen(r *http.Request) int {
	if r.RequestURI != "" {
		return len(r.RequestURI)
	}
	n := len(r.URL.EscapedPath())
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		n += 1 + len(r.URL.RawQuery)
	}
	return n
}

// countParams counts the non-empty '&'-separated fields of a raw query, as
// url.ParseQuery would see them (empty fields are skipped there too).
func countParams(q string) int {
	n, start := 0, 0
	for i := 0; i <= len(q); i++ {
		if i == len(q) || q[i] == '&' {
			if i > start {
				n++
			}
			start = i + 1
		}
	}
	return n
}

// headerStats returns the field line count and the bytes of names and
// values. net/http keeps Host in r.Host and Transfer-Encoding in
// r.TransferEncoding, so they are added back.
func headerStats(r *http.Request) (lines, size int64) {
	for name, values := range r.Header {
		if name == "Cookie" && len(values) > 1 {
			// HTTP/2 may split Cookie into crumbs (RFC 9113 section 8.2.3);
			// count it as the one field it is on HTTP/1.1, with "; "
			// between the crumbs.
			lines++
			size += int64(len(name))
			for i, v := range values {
				if i > 0 {
					size += 2
				}
				size += int64(len(v))
			}
			continue
		}
		lines += int64(len(values))
		for _, v := range values {
			size += int64(len(name) + len(v))
		}
	}
	if r.Host != "" {
		lines++
		size += int64(len("Host") + len(r.Host))
	}
	if len(r.TransferEncoding) > 0 {
		lines++
		size += int64(len("Transfer-Encoding"))
		for _, te := range r.TransferEncoding {
			size += int64(len(te))
		}
	}
	return lines, size
}

// New builds the middleware from its config entry; errors are a
// config.ErrorList at the entry.
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	l, err := Compile(cfg)
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", spec.Name, err)}
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			status, limit := l.Check(r)
			if status == 0 {
				next.ServeHTTP(w, r)
				return
			}
			log.LogAttrs(r.Context(), slog.LevelDebug, "request_limits: request refused",
				slog.String("request_id", middleware.RequestID(r)), slog.String("limit", limit), slog.Int("status", status))
			middleware.Refuse(w, r, status)
		})
	}, nil
}
