package config

import "net"

// Defaults of the cluster section.
const (
	DefaultRedisPrefix  = "gatehouse:"
	DefaultRedisTimeout = Duration(100 * 1000 * 1000) // 100ms
)

func (c *Config) applyClusterDefaults() {
	if r := c.Cluster.Redis; r != nil {
		setDefault(&r.Prefix, DefaultRedisPrefix)
		setDefault(&r.Timeout, DefaultRedisTimeout)
	}
}

func (v *validator) cluster() {
	r := v.c.Cluster.Redis
	if r == nil {
		return
	}
	if r.Address == "" {
		v.add("$.cluster.redis", `write address: "127.0.0.1:6379"`, "cluster.redis.address is required")
	} else if host, port, err := net.SplitHostPort(r.Address); err != nil || host == "" || port == "" {
		v.add("$.cluster.redis.address", `write host:port, e.g. "127.0.0.1:6379" or "[::1]:6379"`, "cluster.redis.address %q is not host:port", r.Address)
	}
	v.nonNegative("$.cluster.redis.timeout", "cluster.redis.timeout", r.Timeout)
	if r.DB < 0 {
		v.add("$.cluster.redis.db", "", "cluster.redis.db must not be negative")
	}
}
