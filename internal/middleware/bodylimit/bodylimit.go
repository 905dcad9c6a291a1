package bodylimit

import (
	"fmt"
	"io"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Names under which the middleware is registered: the config spelling and
// the hyphenated alias.
const (
	Name  = "body_limit"
	Alias = "body-limit"
)

func init() {
	middleware.Register(Name, New)
	middleware.Register(Alias, New)
}

// ErrTooLarge is wrapped by the read error of a request body that goes past
// the limit. The proxy aborts the upstream request when reading the body
// fails; it must answer 413 (RFC 9110 section 15.5.14) for an error
// matching errors.Is(err, ErrTooLarge) when no response has started.
// It is protocol.ErrBodyTooLarge, whose status mapping lives with the
// other proxy errors in internal/protocol/errors.go.
var ErrTooLarge = protocol.ErrBodyTooLarge

// Config is the middleware's settings. The short form `body_limit: 10MB`
// sets Max.
type Config struct {
	// Max is the largest body accepted, in bytes ("10MB"). Required, > 0.
	Max config.Size `yaml:"max"`
}

// New builds the middleware from its config entry: a mapping with max, or
// a size alone. Errors are a config.ErrorList at the entry.
func New(spec config.MiddlewareSpec, _ middleware.Env) (middleware.Middleware, error) {
	cfg, err := decode(spec)
	if err != nil {
		return nil, err
	}
	if cfg.Max <= 0 {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), `write "body_limit: 10MB" or "body_limit: { max: 10MB }"`,
			"%s: max must be a size greater than 0", spec.Name)}
	}
	return Limit(int64(cfg.Max)), nil
}

// decode accepts both forms: it looks at the settings' shape first so a
// mistake is reported against the form the operator used.
func decode(spec config.MiddlewareSpec) (Config, error) {
	var cfg Config
	var shape any
	if err := spec.Decode(&shape); err != nil {
		return cfg, err
	}
	if _, isMap := shape.(map[string]any); isMap || shape == nil {
		return cfg, spec.Decode(&cfg)
	}
	return cfg, spec.Decode(&cfg.Max)
}

// Limit returns the middleware for a limit of max bytes (max > 0).
func Limit(max int64) middleware.Middleware {
	errLimit := fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, max)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.ContentLength > max:
				// Refused before anything goes upstream; the body is not
				// read, so with "Expect: 100-continue" the client does not
				// even send it (RFC 9110 section 10.1.1).
				TooLarge(w, r)
				return
			case r.ContentLength >= 0 || r.Body == nil || r.Body == http.NoBody:
				// The server enforces a known length (RFC 9112 section
				// 6.3): nothing more can arrive.
			default:
				r.Body = &limitedBody{rc: r.Body, left: max, err: errLimit}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TooLarge writes the 413 response body_limit sends: Gatehouse's short
// error body with the request ID, like every error Gatehouse produces.
//
// The rest of the body is not read, so on HTTP/1 the connection is closed
// after it (middleware.Refuse, RFC 9112 section 9.6).
func TooLarge(w http.ResponseWriter, r *http.Request) {
	middleware.Refuse(w, r, http.StatusRequestEntityTooLarge)
}

// limitedBody returns err once more than left bytes would be read. It
// reads at most one byte past the limit from the client, to tell "exactly
// max" from "more".
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, b.err
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
