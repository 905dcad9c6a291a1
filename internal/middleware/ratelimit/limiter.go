package ratelimit

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// Names under which the rate limiter is registered.
const (
	Name  = "ratelimit"
	Alias = "rate_limit"
)

func init() {
	middleware.Register(Name, New)
	middleware.Register(Alias, New)
	middleware.Register(ConcurrencyName, NewConcurrency)
}

// sharedLimiter decides in state shared by all instances; implemented by
// *cluster.RateLimiter (STYLE.md 1.4: declared here, by its consumer).
// An error means "decide locally"; it never reaches a client.
type sharedLimiter interface {
	Take(key string, interval time.Duration, burst int64) (cluster.GCRAResult, error)
}

// Limiter is one configured rate limit. Safe for concurrent use.
type Limiter struct {
	s        settings
	interval time.Duration
	policy   string // RateLimit-Policy value, fixed
	local    *store
	shared   sharedLimiter // nil without cluster.redis
	prefix   string        // the limiter's Redis key prefix
	now      func() time.Time
	logger   *slog.Logger
}

// New builds the ratelimit middleware from its config entry (a mapping, or
// a rate alone). Errors are a config.ErrorList at the entry. With
// env.Cluster carrying Redis the decisions are shared; the local buckets
// come from env.State, so they survive a reload that keeps the limiter's
// identity (its place in the configuration and its settings).
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	l, err := newLimiter(spec, env)
	if err != nil {
		return nil, err
	}
	return l.Wrap, nil
}

func newLimiter(spec config.MiddlewareSpec, env middleware.Env) (*Limiter, error) {
	cfg, err := decodeConfig(spec)
	if err != nil {
		return nil, err
	}
	s, err := cfg.validate()
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), `e.g. "ratelimit: { rate: 100/m, burst: 20, key: [client_ip] }"`, "%s: %v", spec.Name, err)}
	}
	id := s.identity(spec.Path)
	v, err := env.Shared(fmt.Sprintf("%s|max=%d", id, s.maxKeys), func() (any, error) { return newStore(s.maxKeys), nil })
	if err != nil {
		return nil, fmt.Errorf("%s: state: %w", spec.Name, err)
	}
	st, ok := v.(*store)
	if !ok {
		return nil, fmt.Errorf("%s: state under its key is a %T", spec.Name, v)
	}
	l := &Limiter{
		s:        s,
		interval: s.rate.Interval(),
		policy:   policyValue(s),
		local:    st,
		prefix:   redisPrefix(id),
		now:      env.Now,
		logger:   env.Logger,
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if rl := env.Cluster.RateLimiter(); rl != nil {
		l.shared = rl
	}
	return l, nil
}

// decodeConfig accepts both forms, looking at the shape first so that a
// mistake is reported against the form the operator used.
func decodeConfig(spec config.MiddlewareSpec) (Config, error) {
	var cfg Config
	var shape any
	if err := spec.Decode(&shape); err != nil {
		return cfg, err
	}
	if _, isMap := shape.(map[string]any); isMap || shape == nil {
		return cfg, spec.Decode(&cfg)
	}
	return cfg, spec.Decode(&cfg.Rate)
}

// Wrap is the middleware: it refuses over-limit requests with 429 before
// next runs, and lets the others through (with RateLimit fields when
// configured).
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := l.s.keys.extract(r)
		if !ok {
			switch l.s.onMissing {
			case missingSkip:
				next.ServeHTTP(w, r)
				return
			case missingRefuse:
				logRefusal(l.logger, r, "ratelimit: key missing; refused", l.s.name)
				middleware.WriteError(w, r, http.StatusForbidden)
				return
			case missingShared:
				key = keyHash{}
			default:
				if key, ok = l.s.keys.clientIPKey(r); !ok {
					key = keyHash{}
				}
			}
		}
		d := l.decide(key)
		if !d.Allowed {
			logRefusal(l.logger, r, "ratelimit: over limit; refused", l.s.name)
			h := w.Header()
			h.Set("Retry-After", strconv.FormatInt(ceilSeconds(d.RetryAfter), 10))
			h.Add("RateLimit-Policy", l.policy)
			h.Add("RateLimit", l.limitValue(d))
			middleware.WriteError(w, r, http.StatusTooManyRequests)
			return
		}
		if l.s.headers {
			h := w.Header()
			h.Add("RateLimit-Policy", l.policy)
			h.Add("RateLimit", l.limitValue(d))
		}
		next.ServeHTTP(w, r)
	})
}

// decide asks the shared limiter when there is one and falls back to the
// local buckets when it cannot answer (the cluster logs the outage once and
// probes Redis with back-off; see cluster.ErrUnavailable).
func (l *Limiter) decide(key keyHash) Decision {
	if l.shared != nil {
		var buf [64]byte
		k := hex.AppendEncode(append(buf[:0], l.prefix...), key[:])
		if res, err := l.shared.Take(string(k), l.interval, l.s.burst); err == nil {
			return Decision(res)
		}
	}
	return l.local.take(key, l.now(), l.interval, l.s.burst)
}

// limitValue is the RateLimit field (draft-ietf-httpapi-ratelimit-headers
// -11 section 4): the available quota "r" and the effective window "t",
// the seconds within which no more than r requests will be allowed.
func (l *Limiter) limitValue(d Decision) string {
	b := make([]byte, 0, 48)
	b = appendSFString(b, l.s.name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, d.Remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(nextUnit(d, l.interval)), 10)
	return string(b)
}

// policyValue is the RateLimit-Policy field (draft section 3): quota "q"
// per window "w" seconds, the sustained rate. A burst different from the
// rate's count is stated in a vendor parameter, as section 3.1 asks for
// implementation-specific parameters.
func policyValue(s settings) string {
	b := appendSFString(nil, s.name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, s.rate.Count, 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, int64(s.rate.Per/time.Second), 10)
	if s.burst != s.rate.Count {
		b = append(b, ";gatehouse-burst="...)
		b = strconv.AppendInt(b, s.burst, 10)
	}
	return string(b)
}

// appendSFString writes a structured-field String (RFC 9651 section
// 3.3.3); names are validated to need no escapes.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// logRefusal logs a refusal at Debug with the request ID: refusals are
// routine under attack, and the access log records every one anyway.
func logRefusal(logger *slog.Logger, r *http.Request, msg, policy string) {
	if !logger.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	var id, route string
	if info := observe.InfoFrom(r.Context()); info != nil {
		id, route = info.ID, info.Route
	}
	logger.Debug(msg, "request_id", id, "route", route, "policy", policy)
}
