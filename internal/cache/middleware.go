package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
}

// Close ends the purge subscription.
func (s *sharedStore) Close() error {
	if s.stop != nil {
		s.stop()
	}
	return nil
}

// NewMiddleware builds the cache middleware from its config entry. The
// store is kept in env's state under "cache|name=NAME|size=BYTES", so it
// survives reloads while its name and size stay the same. Errors are a
// config.ErrorList at the entry.
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
	key := fmt.Sprintf("cache|name=%s|size=%d", cfg.Name, int64(cfg.Size))
	v, err := env.Shared(key, func() (any, error) {
		st, err := NewStore(int64(cfg.Size))
		if err != nil {
			return nil, err
		}
		ss := &sharedStore{store: st}
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
	if bus != nil {
		logger := env.Logger
		opts.Publish = func(m PurgeMessage) {
			b, _ := json.Marshal(m)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := bus.Publish(ctx, b); err != nil && logger != nil {
				logger.Warn("cache purge not published to the cluster", "error", err)
			}
		}
	}
	c, err := New(ss.store, opts)
	if err != nil {
		return nil, fail(err)
	}
	return func(next http.Handler) http.Handler { return c.Handler(next) }, nil
}
