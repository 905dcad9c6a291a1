package ratelimit

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// ConcurrencyName is the concurrency limiter's registered name.
const ConcurrencyName = "concurrency"

// ConcurrencyConfig is the concurrency middleware's settings. The short
// form `concurrency: 10` sets Max.
type ConcurrencyConfig struct {
	// Max is the largest number of requests of one key in flight at once.
	// Required, > 0.
	Max int64 `yaml:"max"`
	// Key, IPv4Prefix, IPv6Prefix and OnMissingKey are as for ratelimit.
	Key          config.StringList `yaml:"key"`
	IPv4Prefix   *int              `yaml:"ipv4_prefix"`
	IPv6Prefix   *int              `yaml:"ipv6_prefix"`
	OnMissingKey string            `yaml:"on_missing_key"`
	// Status of a refusal: 429 (default; one client has too many requests
	// in flight) or 503 (the limit protects the backend for everyone, e.g.
	// key: [route]).
	Status int `yaml:"status"`
	// Headers adds RateLimit-Policy and RateLimit (quota unit
	// "concurrent-requests") to allowed responses too. Default false:
	// the remaining count is stale as soon as it is sent.
	Headers bool `yaml:"headers"`
	// Name is the policy's name in the RateLimit fields. Default
	// "concurrency".
	Name string `yaml:"name"`
}

// Concurrency limits in-flight requests per key. It is local to each
// instance (documented): a shared in-flight count would need leases so a
// crashed instance's requests do not stay counted forever.
//
// Memory is bounded by the requests in flight: a key's counter is dropped
// when its last request ends. Safe for concurrent use.
type Concurrency struct {
	max       int64
	keys      keySpec
	onMissing missingPolicy
	status    int
	headers   bool
	name      string
	policy    string
	logger    *slog.Logger
	shards    [storeShards]inflightShard
}

type inflightShard struct {
	mu sync.Mutex
	n  map[keyHash]int64
}

// NewConcurrency builds the concurrency middleware from its config entry.
// Errors are a config.ErrorList at the entry.
func NewConcurrency(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	c, err := newConcurrency(spec, env)
	if err != nil {
		return nil, err
	}
	return c.Wrap, nil
}

func newConcurrency(spec config.MiddlewareSpec, env middleware.Env) (*Concurrency, error) {
	var cfg ConcurrencyConfig
	var shape any
	err := spec.Decode(&shape)
	if _, isMap := shape.(map[string]any); err == nil && (isMap || shape == nil) {
		err = spec.Decode(&cfg)
	} else if err == nil {
		err = spec.Decode(&cfg.Max)
	}
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return config.ErrorList{config.Errorf(spec.Pos(), `e.g. "concurrency: { max: 10, key: [client_ip] }"`, "%s: %s", spec.Name, fmt.Sprintf(format, args...))}
	}
	if cfg.Max < 1 {
		return nil, bad("max must be at least 1")
	}
	c := &Concurrency{max: cfg.Max, status: cfg.Status, headers: cfg.Headers, name: cfg.Name, logger: env.Logger}
	if c.status == 0 {
		c.status = http.StatusTooManyRequests
	}
	if c.status != http.StatusTooManyRequests && c.status != http.StatusServiceUnavailable {
		return nil, bad("status %d must be 429 or 503", cfg.Status)
	}
	if c.name == "" {
		c.name = "concurrency"
	}
	if !validName(c.name) {
		return nil, bad("name %q: use letters, digits, '-', '_' or '.' (at most 64)", cfg.Name)
	}
	c.keys, c.onMissing, err = keyConfig{key: cfg.Key, v4: cfg.IPv4Prefix, v6: cfg.IPv6Prefix, onMissingKey: cfg.OnMissingKey}.build()
	if err != nil {
		return nil, bad("%v", err)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	for i := range c.shards {
		c.shards[i].n = make(map[keyHash]int64)
	}
	// Quota unit "concurrent-requests": draft-ietf-httpapi-ratelimit-
	// headers-11 section 3.1.2; no window, the quota is not time-based.
	c.policy = string(appendSFString(nil, c.name)) + ";q=" + strconv.FormatInt(c.max, 10) + `;qu="concurrent-requests"`
	return c, nil
}

// Wrap is the middleware. A request over the limit is refused before next
// runs; an admitted one is released when next returns, also when it
// panics (http.ErrAbortHandler included): the release is deferred.
func (c *Concurrency) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := c.keys.extract(r)
		if !ok {
			switch c.onMissing {
			case missingSkip:
				next.ServeHTTP(w, r)
				return
			case missingRefuse:
				logRefusal(c.logger, r, "concurrency: key missing; refused", c.name)
				middleware.WriteError(w, r, http.StatusForbidden)
				return
			case missingShared:
				key = keyHash{}
			default:
				if key, ok = c.keys.clientIPKey(r); !ok {
					key = keyHash{}
				}
			}
		}
		left, ok := c.acquire(key)
		if !ok {
			logRefusal(c.logger, r, "concurrency: too many in flight; refused", c.name)
			h := w.Header()
			// The wait is unknown; one second keeps well-behaved clients
			// from retrying in a tight loop (RFC 6585 section 4 allows
			// Retry-After with 429; RFC 9110 section 10.2.3).
			h.Set("Retry-After", "1")
			h.Add("RateLimit-Policy", c.policy)
			h.Add("RateLimit", string(appendSFString(nil, c.name))+";r=0")
			middleware.WriteError(w, r, c.status)
			return
		}
		defer c.release(key)
		if c.headers {
			h := w.Header()
			h.Add("RateLimit-Policy", c.policy)
			h.Add("RateLimit", string(appendSFString(nil, c.name))+";r="+strconv.FormatInt(left, 10))
		}
		next.ServeHTTP(w, r)
	})
}

func (c *Concurrency) shard(key keyHash) *inflightShard {
	return &c.shards[binary.LittleEndian.Uint16(key[:2])%storeShards]
}

// acquire counts one more request for key if it stays within max, and
// returns how many more could be admitted.
func (c *Concurrency) acquire(key keyHash) (int64, bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := sh.n[key]
	if n >= c.max {
		return 0, false
	}
	sh.n[key] = n + 1
	return c.max - n - 1, true
}

func (c *Concurrency) release(key keyHash) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if n := sh.n[key]; n > 1 {
		sh.n[key] = n - 1
	} else {
		delete(sh.n, key)
	}
}

// inFlight returns the number of requests counted (tests).
func (c *Concurrency) inFlight() int64 {
	var t int64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for _, n := range sh.n {
			t += n
		}
		sh.mu.Unlock()
	}
	return t
}
