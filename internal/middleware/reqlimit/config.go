package reqlimit

import (
	"fmt"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Config is the middleware's settings. Zero means "no limit" for each; at
// least one must be set.
type Config struct {
	// MaxHeaders bounds the number of header field lines (Host included;
	// the Cookie field counts once even when HTTP/2 splits it, RFC 9113
	// section 8.2.3). Past it: 431.
	MaxHeaders int `yaml:"max_headers"`
	// MaxHeaderBytes bounds the total size of field names and values
	// (without the ": " and CRLF framing, so the same on HTTP/1.1 and
	// HTTP/2). Past it: 431.
	MaxHeaderBytes config.Size `yaml:"max_header_bytes"`
	// MaxQueryParams bounds the number of '&'-separated query parameters.
	// Past it: 400 (the target is not too long, just too many fields).
	MaxQueryParams int `yaml:"max_query_params"`
	// MaxURLBytes bounds the request target as sent (path and query).
	// Past it: 414.
	MaxURLBytes config.Size `yaml:"max_url_bytes"`
}

// Limits is the compiled configuration. Immutable, safe for concurrent use.
type Limits struct {
	headers, headerBytes, params, urlBytes int64
}

// Compile validates cfg: no negative value, at least one limit.
func Compile(cfg Config) (*Limits, error) {
	l := &Limits{int64(cfg.MaxHeaders), int64(cfg.MaxHeaderBytes), int64(cfg.MaxQueryParams), int64(cfg.MaxURLBytes)}
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_headers", l.headers}, {"max_header_bytes", l.headerBytes}, {"max_query_params", l.params}, {"max_url_bytes", l.urlBytes}} {
		if f.v < 0 {
			return nil, fmt.Errorf("%s must not be negative", f.name)
		}
	}
	if *l == (Limits{}) {
		return nil, fmt.Errorf("nothing to do: set max_headers, max_header_bytes, max_query_params or max_url_bytes (body size: use body_limit)")
	}
	return l, nil
}
