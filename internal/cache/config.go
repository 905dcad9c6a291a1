package cache

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Config is the `cache` middleware's settings (docs/cache.md).
type Config struct {
	// Name identifies the store: routes with the same name and size share
	// one store, and it survives reloads while both are unchanged.
	// Default "default".
	Name string `yaml:"name"`
	// Size bounds the store (headers, bodies and overhead). Default 256MB.
	Size config.Size `yaml:"size"`
	// MaxObjectSize is the largest response stored. Default 10MB.
	MaxObjectSize        config.Size     `yaml:"max_object_size"`
	DefaultTTL           config.Duration `yaml:"default_ttl"`
	HeuristicMax         config.Duration `yaml:"heuristic_max"`
	StaleWhileRevalidate config.Duration `yaml:"stale_while_revalidate"`
	StaleIfError         config.Duration `yaml:"stale_if_error"`
	LockTimeout          config.Duration `yaml:"lock_timeout"`
	Key                  KeyConfig       `yaml:"key"`
	Post                 PostConfig      `yaml:"post"`
	Purge                PurgeConfig     `yaml:"purge"`
	// ForceTTL maps a status code ("200") to a lifetime that overrides the
	// backend's freshness.
	ForceTTL         map[string]config.Duration `yaml:"force_ttl"`
	IgnoreDirectives []string                   `yaml:"ignore_directives"`
	// Disk, when its Path is set, keeps bodies of at least MinObjectSize
	// in files under Path (the optional disk store).
	Disk DiskConfig `yaml:"disk"`
}

// DiskConfig is Config.Disk: the optional on-disk store for large bodies.
type DiskConfig struct {
	// Path is the directory (created 0700 if missing); empty: no disk
	// store. Gatehouse works only in subdirectories it creates there.
	Path string `yaml:"path"`
	// Size bounds the bodies on disk. Default 1GB.
	Size config.Size `yaml:"size"`
	// MinObjectSize: bodies at least this large go to disk, smaller ones
	// stay in memory. Default 1MB; at most max_object_size.
	MinObjectSize config.Size `yaml:"min_object_size"`
}

// KeyConfig is Config.Key.
type KeyConfig struct {
	IgnoreQuery []string `yaml:"ignore_query"`
	SortQuery   bool     `yaml:"sort_query"`
	Headers     []string `yaml:"headers"`
	Cookies     []string `yaml:"cookies"`
}

// PostConfig is Config.Post.
type PostConfig struct {
	Enabled       bool        `yaml:"enabled"`
	MaxBody       config.Size `yaml:"max_body"`
	CanonicalJSON bool        `yaml:"canonical_json"`
}

// PurgeConfig is Config.Purge.
type PurgeConfig struct {
	Allow       []string `yaml:"allow"`
	TokenHeader string   `yaml:"token_header"`
	Token       string   `yaml:"token"`
}

// Defaults of Config.
const (
	DefaultSize = 256 << 20
	DefaultName = "default"
)

// withDefaults fills zero fields.
func (cfg Config) withDefaults() Config {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Disk.Path != "" {
		if cfg.Disk.Size == 0 {
			cfg.Disk.Size = DefaultDiskSize
		}
		if cfg.Disk.MinObjectSize == 0 {
			cfg.Disk.MinObjectSize = DefaultDiskMinObjectSize
		}
	}
	return cfg
}

// options converts the settings (defaults applied) into Options.
func (cfg Config) options() (Options, error) {
	o := Options{
		MaxObjectSize:        cfg.MaxObjectSize.Int64(),
		DefaultTTL:           cfg.DefaultTTL.D(),
		HeuristicMax:         cfg.HeuristicMax.D(),
		StaleWhileRevalidate: cfg.StaleWhileRevalidate.D(),
		StaleIfError:         cfg.StaleIfError.D(),
		LockTimeout:          cfg.LockTimeout.D(),
		Key:                  KeyOptions(cfg.Key),
		Post:                 PostOptions{Enabled: cfg.Post.Enabled, MaxBody: cfg.Post.MaxBody.Int64(), CanonicalJSON: cfg.Post.CanonicalJSON},
		Purge:                PurgeOptions{Allow: cfg.Purge.Allow, TokenHeader: cfg.Purge.TokenHeader, Token: cfg.Purge.Token},
		IgnoreDirectives:     cfg.IgnoreDirectives,
	}
	if cfg.Size < 0 {
		return o, fmt.Errorf("%w: size is negative", ErrOptions)
	}
	if d := cfg.Disk; d.Path != "" {
		maxObj := cfg.MaxObjectSize.Int64()
		if maxObj == 0 {
			maxObj = DefaultMaxObjectSize
		}
		switch {
		case d.Size < 0, d.MinObjectSize < 0:
			return o, fmt.Errorf("%w: disk: size and min_object_size must not be negative", ErrOptions)
		case d.MinObjectSize.Int64() > maxObj:
			return o, fmt.Errorf("%w: disk.min_object_size (%s) is larger than max_object_size (%s): nothing would be stored on disk", ErrOptions, d.MinObjectSize, config.Size(maxObj))
		}
		o.DiskMinObjectSize = d.MinObjectSize.Int64()
	} else if cfg.Disk.Size != 0 || cfg.Disk.MinObjectSize != 0 {
		return o, fmt.Errorf("%w: disk: size and min_object_size need a path", ErrOptions)
	}
	for k, d := range cfg.ForceTTL {
		code, err := strconv.Atoi(k)
		if err != nil {
			return o, fmt.Errorf("%w: force_ttl: %q is not a status code", ErrOptions, k)
		}
		if o.ForceTTL == nil {
			o.ForceTTL = map[int]time.Duration{}
		}
		o.ForceTTL[code] = d.D()
	}
	return o, nil
}
