package cluster

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Cluster is the connection to the state shared between Gatehouse instances.
// A Cluster built from a config without Redis is valid and local-only:
// Redis returns nil, and every consumer keeps its state in memory.
//
// Safe for concurrent use. The runtime keeps one Cluster across reloads
// while its configuration is unchanged.
type Cluster struct {
	rdb    redis.UniversalClient
	prefix string
	logger *slog.Logger
	// health says whether Redis is worth asking now; one per connection,
	// so an outage is logged once per process, not once per consumer.
	health *health
}

// Option changes a Cluster's defaults (tests inject the clock and a short
// back-off).
type Option func(*options)

type options struct {
	now                    func() time.Time
	minBackoff, maxBackoff time.Duration
}

// Default back-off between probes of an unreachable Redis: it doubles from
// the first to the last value while Redis stays down.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 15 * time.Second
)

// WithClock sets the clock used to schedule probes (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithBackoff sets the probe back-off bounds (0 keeps a default).
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = min, max }
}

// New connects lazily to cfg.Redis (no I/O happens here; a Redis that is
// down at start is not an error: consumers fall back to local state).
// A nil logger discards.
func New(cfg config.Cluster, logger *slog.Logger, opts ...Option) (*Cluster, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{now: time.Now, minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff}
	for _, f := range opts {
		f(&o)
	}
	if o.minBackoff <= 0 {
		o.minBackoff = DefaultMinBackoff
	}
	if o.maxBackoff < o.minBackoff {
		o.maxBackoff = max(o.minBackoff, DefaultMaxBackoff)
	}
	c := &Cluster{logger: logger}
	if cfg.Redis == nil {
		return c, nil
	}
	timeout := cfg.Redis.Timeout.D()
	if timeout <= 0 {
		timeout = config.DefaultRedisTimeout.D()
	}
	c.prefix = cfg.Redis.Prefix
	c.rdb = redis.NewClient(&redis.Options{
		Addr:         cfg.Redis.Address,
		Username:     cfg.Redis.Username,
		Password:     cfg.Redis.Password,
		DB:           cfg.Redis.DB,
		DialTimeout:  timeout,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		PoolTimeout:  timeout,
		// No client-side retries: Timeout bounds each call, and the
		// consumers fall back to local state instead of waiting through
		// go-redis' retry back-off (8ms..512ms per attempt).
		MaxRetries: -1,
		// One dial attempt per call for the same reason (go-redis would
		// otherwise dial 5 times, 100ms apart, before failing).
		DialerRetries: 1,
	})
	c.health = newHealth(logger, cfg.Redis.Address, o.now, o.minBackoff, o.maxBackoff)
	return c, nil
}

// Redis returns the shared Redis client, or nil when the cluster is local.
func (c *Cluster) Redis() redis.UniversalClient {
	if c == nil {
		return nil
	}
	return c.rdb
}

// Prefix is prepended to every key Gatehouse writes.
func (c *Cluster) Prefix() string {
	if c == nil {
		return ""
	}
	return c.prefix
}

// Close releases the connection. Idempotent.
func (c *Cluster) Close() error {
	if c == nil || c.rdb == nil {
		return nil
	}
	return c.rdb.Close()
}
