package upstream

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrUnknownPolicy is returned (wrapped, with the name) by NewPolicy for a
// name no policy is registered under.
var ErrUnknownPolicy = errors.New("unknown balancing policy")

// PickContext is what a policy may look at to choose a target. The proxy
// fills one per request; fields may be zero. It is extensible: the hash
// policies of the upstreams issue read ClientIP, Header and Path.
type PickContext struct {
	// ClientIP is the real client address (after trusted-proxy handling).
	ClientIP netip.Addr
	// Header gives access to the request headers; may be nil.
	Header protocol.Header
	// Path is the request path as the route saw it.
	Path string
}

// Policy picks one target among targets (never empty, in configuration
// order) for one request. Implementations are tiny (STYLE 1.5): no I/O, no
// config parsing, at most atomic state; safe for concurrent use; Pick must
// not allocate and must not retain targets or pc.
type Policy interface {
	Pick(targets []*Target, pc *PickContext) *Target
}

// defaultPolicy is used when the configuration names none.
const defaultPolicy = config.DefaultPolicy

// policies maps a configuration name to a constructor. It is a registry:
// filled by init functions in this package, read-only afterwards.
var policies = map[string]func() Policy{}

// registerPolicy adds a policy under name; it panics on a duplicate, which
// is a programming error found at startup.
func registerPolicy(name string, newPolicy func() Policy) {
	if _, dup := policies[name]; dup {
		panic("upstream: duplicate policy " + name)
	}
	policies[name] = newPolicy
}

// NewPolicy returns a fresh policy registered under name ("" means
// config.DefaultPolicy). Errors wrap ErrUnknownPolicy.
func NewPolicy(name string) (Policy, error) {
	if name == "" {
		name = defaultPolicy
	}
	f, ok := policies[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownPolicy, name, PolicyNames())
	}
	return f(), nil
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
