package upstream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sort"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrUnknownPolicy is returned (wrapped, with the name) by NewPolicy for a
// name no policy is registered under.
var ErrUnknownPolicy = errors.New("unknown balancing policy")

// PickContext is what a policy may look at to choose a target, and what the
// pool tells the proxy back. The proxy fills one per request (it lives in
// the per-request exchange, so no allocation); fields may be zero.
type PickContext struct {
	// ClientIP is the real client address (after trusted-proxy handling).
	ClientIP netip.Addr
	// Header gives access to the request headers; may be nil.
	Header protocol.Header
	// Path is the request path as the route saw it.
	Path string
	// Request is the full request on the net/http path; nil on the own
	// engine (pools whose policy needs it are never served there, see
	// Pool.NativeOK). Placeholder hash keys read it.
	Request *http.Request

	// Tried holds the targets already tried for this request: a retry
	// prefers the others. The proxy adds to it; policies ignore it (the
	// pool filters).
	Tried Tried

	// Now, when not zero, is the caller's recent reading of the pool's
	// clock (PoolOptions.Now, in Unix nanoseconds), used instead of
	// reading it again: the own engine reads the clock once per exchange
	// and passes that reading on (each reading costs ~30 ns).
	Now int64

	// SetCookie is filled by the cookie policy: the Set-Cookie value the
	// proxy must add to the response ("" = none). It is a string prepared
	// when the pool was built, so setting it does not allocate.
	SetCookie string

	// Reason is filled by the pool: why the target was chosen, as a
	// constant string for the access log and explain (observe.RequestInfo
	// Pick).
	Reason string
}

// Policy picks one target among targets (never empty, in configuration
// order, already filtered by the pool to the available ones) for one
// request. Implementations are tiny (STYLE 1.5): no I/O, no config parsing,
// at most atomic state; safe for concurrent use; Pick must not allocate and
// must not retain targets or pc.
type Policy interface {
	Pick(targets []*Target, pc *PickContext) *Target
}

// PolicyOptions is what a policy constructor receives. Randomness and time
// are injected (DESIGN.md) so tests are deterministic.
type PolicyOptions struct {
	// Upstream is the upstream's configuration (hash, sticky settings).
	Upstream config.Upstream
	// Rand returns a uniformly random uint64; safe for concurrent use.
	Rand func() uint64
	// Now returns the current time in nanoseconds (monotonic enough for
	// EWMA decay).
	Now func() int64
	// Targets are the pool's configured targets (the cookie policy signs
	// one cookie value per target up front).
	Targets []*Target
}

// defaultPolicy is used when the configuration names none.
const defaultPolicy = config.DefaultPolicy

// policies maps a configuration name to a constructor. It is a registry:
// filled by init functions in this package, read-only afterwards.
var policies = map[string]func(PolicyOptions) (Policy, error){}

// registerPolicy adds a policy under name; it panics on a duplicate, which
// is a programming error found at startup.
func registerPolicy(name string, newPolicy func(PolicyOptions) (Policy, error)) {
	if _, dup := policies[name]; dup {
		panic("upstream: duplicate policy " + name)
	}
	policies[name] = newPolicy
}

// NewPolicy returns a fresh policy registered under name ("" means
// config.DefaultPolicy). Zero Rand and Now in opts get real ones. Errors
// wrap ErrUnknownPolicy, or come from the policy's constructor.
func NewPolicy(name string, opts PolicyOptions) (Policy, error) {
	if name == "" {
		name = defaultPolicy
	}
	f, ok := policies[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownPolicy, name, PolicyNames())
	}
	if opts.Rand == nil {
		opts.Rand = rand.Uint64
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	return f(opts)
}

// PolicyNames returns the registered policy names, sorted.
func PolicyNames() []string {
	names := make([]string, 0, len(policies))
	for n := range policies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
