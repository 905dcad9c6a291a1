package ip

import (
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// Name is the middleware's config name.
const Name = "ip"

func init() { middleware.Register(Name, New) }

// Allowed reports whether client may pass: not denied, and allowed when
// an allow list exists. client is normalised first (IPv4-mapped IPv6
// becomes IPv4, a zone is dropped). An invalid address is refused: an
// access rule must fail closed. It does not allocate.
func (r *Rules) Allowed(client netip.Addr) bool {
	if !client.IsValid() {
		return false
	}
	client = Normalize(client)
	if r.deny.Contains(client) {
		return false
	}
	return r.allow.Len() == 0 || r.allow.Contains(client)
}

// New builds the middleware from its config entry; errors are a
// config.ErrorList at the entry (a bad address or prefix, both lists
// empty).
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	rules, err := Compile(cfg)
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), `write CIDRs such as "10.0.0.0/8" or "2001:db8::/32", or single addresses`, "%s: %v", Name, err)}
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return &handler{next: next, rules: rules, log: log}
	}, nil
}

type handler struct {
	next  http.Handler
	rules *Rules
	log   *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := observe.InfoFrom(r.Context())
	var client netip.Addr
	if info != nil {
		client = info.ClientIP
	} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		// Outside the runtime (no RequestInfo) the TCP peer is all there is;
		// forwarding headers are never read here: only the runtime decides
		// whom to trust.
		client = ap.Addr()
	}
	if h.rules.Allowed(client) {
		h.next.ServeHTTP(w, r)
		return
	}
	var id string
	if info != nil {
		id = info.ID
	}
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "ip: request refused",
		slog.String("request_id", id), slog.String("client_ip", client.String()))
	// RFC 9110 section 15.5.4: the server understood the request and
	// will not fulfil it.
	middleware.Refuse(w, r, http.StatusForbidden)
}
