package auth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// Name is the middleware's config name.
const Name = "auth"

func init() { middleware.Register(Name, New) }

// Config is the middleware's settings: exactly one of the methods, plus the
// settings common to all of them.
type Config struct {
	Basic   *BasicConfig   `yaml:"basic"`
	APIKey  *APIKeyConfig  `yaml:"api_key"`
	JWT     *JWTConfig     `yaml:"jwt"`
	Forward *ForwardConfig `yaml:"forward"`

	// PassCredentials keeps the credentials (the Authorization header, the
	// API key header or query parameter) on the request sent upstream.
	// Default false: they are removed once checked, so a backend (or its
	// logs) never holds them.
	PassCredentials bool `yaml:"pass_credentials"`
	// IdentityHeader, when set, is a request header set upstream to the
	// identity's name (user, key name, JWT identity claim, or the forward
	// service's identity header). A value the client sent under that name is
	// always removed first, so it cannot be forged. Default: none.
	IdentityHeader string `yaml:"identity_header"`
}

// Identity is who a request was authenticated as. It is immutable once in
// a context: readers must not modify it (Claims included).
type Identity struct {
	// Method is "basic", "api_key", "jwt" or "forward".
	Method string
	// Name is the user name (basic), the key's name from the config
	// (api_key), the identity claim, "sub" by default (jwt), or the value
	// of the forward service's identity_from header (forward). It may be
	// "" (a token without the claim, a forward method without
	// identity_from). It is never a secret.
	Name string
	// Claims are the verified JWT claims (jwt only; nil otherwise). Numbers
	// are json.Number.
	Claims map[string]any
}

// Method names, as in Identity.Method and the config keys.
const (
	MethodBasic   = "basic"
	MethodAPIKey  = "api_key"
	MethodJWT     = "jwt"
	MethodForward = "forward"
)

type identityKey struct{}

// WithIdentity returns ctx carrying id. The middleware calls it on success;
// it is exported for tests of middleware that read the identity.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the auth middleware put in ctx, or nil
// when the request was not authenticated by it (no auth on the route, or a
// handler used outside a chain).
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// authenticator is one method. authenticate looks only at the request; it
// is called concurrently.
type authenticator interface {
	// authenticate checks r's credentials. On success it returns the
	// identity and the headers to set on the upstream request (may be
	// nil); otherwise a refusal.
	authenticate(r *http.Request) (*Identity, http.Header, *refusal)
	// strip removes the method's credentials from r before it goes
	// upstream; it returns r or a shallow copy (when the URL changes).
	strip(r *http.Request) *http.Request
	// owned lists the canonical names of request headers this method sets
	// upstream: the client's values are removed so they cannot be forged.
	owned() []string
}

// New builds the middleware from its config entry. Errors are a
// config.ErrorList at the entry: no method or more than one, a plain
// password where a bcrypt hash belongs, a key not written as its hash, an
// algorithm that does not fit the key source, a bad header name...
//
// Long-lived state (the JWKS cache, the forward service's HTTP client) is
// kept in env's shared state, so a reload with the same settings keeps it.
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	fail := func(hint string, err error) error {
		return config.ErrorList{config.Errorf(spec.Pos(), hint, "%s: %v", Name, err)}
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := 0
	for _, set := range []bool{cfg.Basic != nil, cfg.APIKey != nil, cfg.JWT != nil, cfg.Forward != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fail(`write one method per entry, e.g. "- auth: { basic: { users: { alice: '$2y$10$...' } } }"`,
			fmt.Errorf("exactly one of basic, api_key, jwt or forward must be set, found %d", n))
	}
	var (
		a      authenticator
		method string
		err    error
		hint   string
	)
	switch {
	case cfg.Basic != nil:
		method = MethodBasic
		a, hint, err = newBasic(*cfg.Basic)
	case cfg.APIKey != nil:
		method = MethodAPIKey
		a, hint, err = newAPIKey(*cfg.APIKey)
	case cfg.JWT != nil:
		method = MethodJWT
		a, hint, err = newJWT(*cfg.JWT, env)
	default:
		method = MethodForward
		a, hint, err = newForward(*cfg.Forward, env)
	}
	if err != nil {
		return nil, fail(hint, fmt.Errorf("%s: %w", method, err))
	}
	h := &handler{auth: a, method: method, pass: cfg.PassCredentials, logger: env.Logger}
	if cfg.IdentityHeader != "" {
		if h.identityHeader, err = checkHeaderName(cfg.IdentityHeader); err != nil {
			return nil, fail("", fmt.Errorf("identity_header: %w", err))
		}
	}
	h.removeFirst = append(h.removeFirst, a.owned()...)
	if h.identityHeader != "" {
		h.removeFirst = append(h.removeFirst, h.identityHeader)
	}
	return func(next http.Handler) http.Handler {
		return &chained{handler: h, next: next}
	}, nil
}

// handler is the compiled middleware; immutable, shared by every chain the
// Middleware is applied to.
type handler struct {
	auth           authenticator
	method         string
	pass           bool
	identityHeader string
	removeFirst    []string // client headers removed before the upstream ones are set
	logger         *slog.Logger
}

type chained struct {
	*handler
	next http.Handler
}

func (c *chained) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, add, ref := c.auth.authenticate(r)
	if ref != nil {
		c.refuse(w, r, ref)
		return
	}
	// The request belongs to this route's chain: its headers are edited in
	// place, as the headers middleware does. Credentials go first, so a
	// header the method sets (a forward service's Authorization for the
	// backend) is not stripped with them.
	if !c.pass {
		r = c.auth.strip(r)
	}
	for _, name := range c.removeFirst {
		r.Header.Del(name)
	}
	for name, vs := range add {
		r.Header[name] = vs
	}
	if c.identityHeader != "" && id.Name != "" {
		r.Header.Set(c.identityHeader, id.Name)
	}
	if info := observe.InfoFrom(r.Context()); info != nil {
		info.Auth, info.User = id.Method, id.Name // for the access log
	}
	c.next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
}

// refuse answers ref and logs it at Debug (a refusal is routine; a failure
// of a dependency, status 5xx, at Warn) with the request ID.
func (c *chained) refuse(w http.ResponseWriter, r *http.Request, ref *refusal) {
	var reqID, route string
	if info := observe.InfoFrom(r.Context()); info != nil {
		reqID, route = info.ID, info.Route
	}
	level := slog.LevelDebug
	if ref.status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", reqID), slog.String("route", route),
		slog.String("method", c.method), slog.Int("status", ref.status), slog.String("reason", ref.reason),
	}
	if ref.err != nil {
		attrs = append(attrs, slog.String("error", ref.err.Error()))
	}
	c.logger.LogAttrs(r.Context(), level, "auth refused", attrs...)
	ref.write(w, r)
}
