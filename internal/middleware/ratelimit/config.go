package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Config is the ratelimit middleware's settings. The short form
// `ratelimit: 100/s` sets Rate alone.
type Config struct {
	// Rate is the sustained rate, "COUNT/UNIT" (ParseRate). Required.
	Rate string `yaml:"rate"`
	// Burst is the bucket capacity: how many requests may arrive at once
	// after a quiet period. Default: the rate's count.
	Burst int64 `yaml:"burst"`
	// Key lists the sources combined into the bucket key (client_ip,
	// route, host, method, header:NAME, query:NAME, a placeholder
	// template). Default [client_ip].
	Key config.StringList `yaml:"key"`
	// IPv4Prefix and IPv6Prefix are the prefix lengths client_ip is
	// masked to. Defaults 32 and 64.
	IPv4Prefix *int `yaml:"ipv4_prefix"`
	IPv6Prefix *int `yaml:"ipv6_prefix"`
	// OnMissingKey says what happens when a key source is absent:
	// client_ip (default; the client's address alone is the key), shared
	// (all such requests share one bucket), skip (not limited) or refuse
	// (403).
	OnMissingKey string `yaml:"on_missing_key"`
	// MaxKeys bounds the buckets held in memory. Default 100000.
	MaxKeys int `yaml:"max_keys"`
	// Headers adds RateLimit-Policy and RateLimit to allowed responses
	// too (refusals always carry them). Default true.
	Headers *bool `yaml:"headers"`
	// Name is the policy's name in the RateLimit fields; give each limiter
	// on a route its own. Default "default".
	Name string `yaml:"name"`
}

// missingPolicy is the parsed on_missing_key.
type missingPolicy uint8

const (
	missingClientIP missingPolicy = iota
	missingShared
	missingSkip
	missingRefuse
)

var missingPolicies = map[string]missingPolicy{
	"":          missingClientIP,
	"client_ip": missingClientIP,
	"shared":    missingShared,
	"skip":      missingSkip,
	"refuse":    missingRefuse,
}

// settings is a validated Config.
type settings struct {
	name      string
	rate      Rate
	burst     int64
	keys      keySpec
	onMissing missingPolicy
	maxKeys   int
	headers   bool
}

// keyConfig is what both middlewares decode for their key.
type keyConfig struct {
	key          []string
	v4, v6       *int
	onMissingKey string
}

func (k keyConfig) build() (keySpec, missingPolicy, error) {
	v4, v6 := DefaultIPv4Prefix, DefaultIPv6Prefix
	if k.v4 != nil {
		v4 = *k.v4
	}
	if k.v6 != nil {
		v6 = *k.v6
	}
	ks, err := parseKeySpec(k.key, v4, v6)
	if err != nil {
		return keySpec{}, 0, err
	}
	mp, ok := missingPolicies[k.onMissingKey]
	if !ok {
		return keySpec{}, 0, fmt.Errorf("%w: on_missing_key %q must be client_ip, shared, skip or refuse", ErrBadKey, k.onMissingKey)
	}
	return ks, mp, nil
}

// validName checks a policy name: it is written as a structured-field
// String (RFC 9651 section 3.3.3); a token-like name needs no escaping.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (c Config) validate() (settings, error) {
	var s settings
	r, err := ParseRate(c.Rate)
	if err != nil {
		return s, err
	}
	s.rate = r
	if r.Interval() < time.Microsecond {
		return s, fmt.Errorf("%w %q: at most 1000000/s", ErrBadRate, c.Rate)
	}
	s.burst = c.Burst
	if s.burst == 0 {
		s.burst = r.Count
	}
	if s.burst < 1 || s.burst > MaxRateCount {
		return s, fmt.Errorf("burst %d must be between 1 and %d", c.Burst, MaxRateCount)
	}
	if r.Interval() > cluster.MaxWindow/time.Duration(s.burst) {
		return s, fmt.Errorf("burst %d at %s takes too long to refill", s.burst, r)
	}
	s.keys, s.onMissing, err = keyConfig{key: c.Key, v4: c.IPv4Prefix, v6: c.IPv6Prefix, onMissingKey: c.OnMissingKey}.build()
	if err != nil {
		return s, err
	}
	s.maxKeys = c.MaxKeys
	if s.maxKeys == 0 {
		s.maxKeys = DefaultMaxKeys
	}
	if s.maxKeys < 1 {
		return s, fmt.Errorf("max_keys %d must be positive", c.MaxKeys)
	}
	s.headers = c.Headers == nil || *c.Headers
	s.name = c.Name
	if s.name == "" {
		s.name = "default"
	}
	if !validName(s.name) {
		return s, fmt.Errorf("name %q: use letters, digits, '-', '_' or '.' (at most 64)", c.Name)
	}
	return s, nil
}

// identity is what makes a limiter's buckets the same across a reload and
// across instances: its place in the configuration and every setting that
// changes a decision. The same identity reuses the buckets (locally via
// middleware.State, in Redis via the key prefix).
func (s settings) identity(path string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ratelimit|%s|%s|rate=%s|burst=%d|v4=%d|v6=%d|missing=%d|key=",
		path, s.name, s.rate, s.burst, s.keys.v4bits, s.keys.v6bits, s.onMissing)
	for _, src := range s.keys.sources {
		fmt.Fprintf(&b, "%d:%s,", src.kind, src.name)
	}
	return b.String()
}

// redisPrefix is the limiter's key prefix inside the cluster prefix:
// short (a hash of the identity) but distinct per limiter.
func redisPrefix(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return "rl:" + hex.EncodeToString(sum[:8]) + ":"
}
