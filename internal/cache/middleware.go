package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// Name is the middleware's config name.
const Name = "cache"

func init() { middleware.Register(Name, NewMiddleware) }

// sharedStore is what env.Shared keeps across reloads: the store and,
// with a cluster, its purge subscription (closed with it).
type sharedStore struct {
	store *Store
	stop  func()
	// publish sends a purge to every instance (nil without a cluster);
	// the admin API uses it through Purge (live.go).
	publish func(PurgeMessage)
}

// Close ends the purge subscription and deletes the disk store's files.
func (s *sharedStore) Close() error {
	if s.stop != nil {
		s.stop()
	}
	return s.store.Close()
}

// NewMiddleware builds the cache middleware from its config entry. The
// store is kept in env's state under "cache|name=NAME|size=BYTES" (plus
// "|disk=PATH|disk_size=BYTES" with a disk store), so it survives reloads
// while those stay the same. Errors are a config.ErrorList at the entry.
func NewMiddleware(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	fail := func(err error) error {
		return config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", Name, err)}
	}
	opts, err := cfg.options()
	if err != nil {
		return nil, fail(err)
	}
	bus := env.Cluster.CachePurge(cfg.Name)
	var publish func(PurgeMessage)
	if bus != nil {
		logger := env.Logger
		publish = func(m PurgeMessage) {
			b, _ := json.Marshal(m)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := bus.Publish(ctx, b); err != nil && logger != nil {
				logger.Warn("cache purge not published to the cluster", "error", err)
			}
		}
	}
	key := StateKeyPrefix(cfg.Name) + fmt.Sprintf("size=%d", int64(cfg.Size))
	if cfg.Disk.Path != "" {
		key += fmt.Sprintf("|disk=%s|disk_size=%d", filepath.Clean(cfg.Disk.Path), int64(cfg.Disk.Size))
	}
	v, err := env.Shared(key, func() (any, error) {
		st, err := newStore(cfg, env.DryRun)
		if err != nil {
			return nil, err
		}
		ss := &sharedStore{store: st, publish: publish}
		if bus != nil {
			ss.stop = bus.Subscribe(func(b []byte) {
				var m PurgeMessage
				if json.Unmarshal(b, &m) == nil {
					st.Apply(m)
				}
			})
		}
		return ss, nil
	})
	if err != nil {
		return nil, fail(err)
	}
	ss, ok := v.(*sharedStore)
	if !ok {
		return nil, fail(fmt.Errorf("state %q holds %T", key, v))
	}
	opts.Now = env.Now
	opts.Logger = env.Logger
	opts.Publish = publish
	c, err := New(ss.store, opts)
	if err != nil {
		return nil, fail(err)
	}
	return func(next http.Handler) http.Handler { return c.Handler(next) }, nil
}

// newStore builds the store of cfg, with its disk store when configured.
// A dry run (validate, explain) touches no directory: the store it builds
// has no disk.
func newStore(cfg Config, dryRun bool) (*Store, error) {
	if cfg.Disk.Path == "" || dryRun {
		return NewStore(int64(cfg.Size))
	}
	d, err := NewDisk(cfg.Disk.Path, int64(cfg.Disk.Size))
	if err != nil {
		return nil, err
	}
	st, err := NewStoreWithDisk(int64(cfg.Size), d)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return st, nil
}
