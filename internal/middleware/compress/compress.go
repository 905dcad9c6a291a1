package compress

import (
	gcompress "github.com/gatehouse-proxy/gatehouse/internal/compress"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// Name is the middleware's config name.
const Name = "compress"

func init() { middleware.Register(Name, New) }

// New builds the middleware from its config entry ("- compress:" with no
// settings uses every default). Errors are a config.ErrorList placed at the
// entry: an unknown coding or a duplicate, a level name or number out of
// range, a bad media-type pattern, min_size over 1MB.
func New(spec config.MiddlewareSpec, _ middleware.Env) (middleware.Middleware, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	opts, err := cfg.options()
	if err != nil {
		return nil, positioned(spec, err)
	}
	c, err := gcompress.New(opts)
	if err != nil {
		return nil, positioned(spec, err)
	}
	return c.Handler, nil
}

func positioned(spec config.MiddlewareSpec, err error) error {
	return config.ErrorList{config.Errorf(spec.Pos(), "", "%s: %v", Name, err)}
}
