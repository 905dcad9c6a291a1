package cluster

import (
	"log/slog"

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
}

// New connects lazily to cfg.Redis (no I/O happens here; a Redis that is
// down at start is not an error: consumers fall back to local state).
func New(cfg config.Cluster, logger *slog.Logger) (*Cluster, error) {
	c := &Cluster{logger: logger}
	if cfg.Redis == nil {
		return c, nil
	}
	c.prefix = cfg.Redis.Prefix
	c.rdb = redis.NewClient(&redis.Options{
		Addr:         cfg.Redis.Address,
		Username:     cfg.Redis.Username,
		Password:     cfg.Redis.Password,
		DB:           cfg.Redis.DB,
		DialTimeout:  cfg.Redis.Timeout.D(),
		ReadTimeout:  cfg.Redis.Timeout.D(),
		WriteTimeout: cfg.Redis.Timeout.D(),
	})
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
