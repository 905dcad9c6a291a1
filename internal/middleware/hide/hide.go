package hide

import (
	"log/slog"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// Name is the middleware's config name.
const Name = "hide"

func init() { middleware.Register(Name, New) }

// New builds the middleware from its config entry. Errors are a
// config.ErrorList at the entry: an invalid header name, a framing or
// hop-by-hop header (Content-Length, Connection, ...), or nothing to do.
//
// Headers are removed from the final response head (not from interim 1xx
// responses, which carry no backend identity by themselves, and not from
// a hijacked connection's head). With error_pages, a 5xx response's body
// is replaced; every other response streams through as written.
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	names, err := compile(cfg)
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", Name, err)}
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &hider{names: names, errorPages: cfg.ErrorPages, log: log}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := &responseWriter{h: h, req: r}
			rw.HeadWriter = middleware.NewHeadWriter(w, rw)
			next.ServeHTTP(rw, r)
			// Nothing written: net/http sends a 200 head after we return.
			rw.Finish()
		})
	}, nil
}

// hider is the compiled configuration. Immutable.
type hider struct {
	names      []string // canonical
	errorPages bool
	log        *slog.Logger
}
