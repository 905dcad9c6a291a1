package upstream

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

func init() {
	registerPolicy(config.PolicyHash, newHash)
}

// ErrPolicySettings is wrapped by the errors of policy constructors whose
// settings (hash, sticky) are missing or invalid.
var ErrPolicySettings = errors.New("invalid balancing policy settings")

// hashKeyKind says where a Hash policy finds its key.
type hashKeyKind uint8

const (
	keyClientIP hashKeyKind = iota
	keyPath
	keyHeader
	keyCookie
	keyTemplate
)

// Hash maps a request key to a target by weighted rendezvous hashing
// (highest random weight; Thaler and Ravishankar 1998, weighted as in
// Schindelhauer and Schomaker 2005): every target scores
// -weight / ln(u), u being a uniform hash of (key, target) in (0, 1), and
// the best score wins. Each target gets keys in proportion to its weight,
// and removing a target moves only the keys it had, adding one takes
// about weight/total of the keys from the others, with no ring to build.
// A target's identity is its network and address, so changing only its
// weight or its scheme keeps its keys.
//
// Keys: client_ip, path, header:NAME, cookie:NAME, or a placeholder
// expression. A request without the key (no client IP, empty path, header
// or cookie absent, expression rendering "" or no *http.Request) goes to
// the fallback policy. Safe for concurrent use; Pick does not allocate,
// except that a placeholder expression with more than one part allocates
// its rendering.
type Hash struct {
	kind     hashKeyKind
	name     string // header or cookie name
	tpl      placeholder.Template
	fallback Policy
	// ids holds each construction-time target's identity hash by Index.
	ids []targetID
}

// targetID is a target's identity and its precomputed hash.
type targetID struct {
	network, address string
	hash             uint64
}

// newHash builds a Hash from opts.Upstream.Hash (defaults: key client_ip,
// fallback p2c_ewma).
func newHash(opts PolicyOptions) (Policy, error) {
	key, fallback := config.DefaultHashKey, config.DefaultPolicy
	if h := opts.Upstream.Hash; h != nil {
		if h.Key != "" {
			key = h.Key
		}
		if h.Fallback != "" {
			fallback = h.Fallback
		}
	}
	p := &Hash{ids: targetIDs(opts.Targets)}
	switch {
	case key == "client_ip":
		p.kind = keyClientIP
	case key == "path":
		p.kind = keyPath
	case strings.HasPrefix(key, "header:"):
		p.kind, p.name = keyHeader, strings.TrimPrefix(key, "header:")
	case strings.HasPrefix(key, "cookie:"):
		p.kind, p.name = keyCookie, strings.TrimPrefix(key, "cookie:")
	case strings.Contains(key, "{"):
		tpl, err := placeholder.Compile(key)
		if err != nil {
			return nil, fmt.Errorf("%w: hash key %q: %w", ErrPolicySettings, key, err)
		}
		p.kind, p.tpl = keyTemplate, tpl
	default:
		return nil, fmt.Errorf("%w: unknown hash key %q (client_ip, path, header:NAME, cookie:NAME or a {placeholder} expression)", ErrPolicySettings, key)
	}
	if (p.kind == keyHeader || p.kind == keyCookie) && p.name == "" {
		return nil, fmt.Errorf("%w: hash key %q names no header or cookie", ErrPolicySettings, key)
	}
	var err error
	if p.fallback, err = newFallback("hash", fallback, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// newFallback builds the fallback policy of hash or cookie; those two
// cannot be fallbacks themselves (config.FallbackPolicies).
func newFallback(owner, name string, opts PolicyOptions) (Policy, error) {
	if name == config.PolicyHash || name == config.PolicyCookie {
		return nil, fmt.Errorf("%w: %s fallback cannot be %q", ErrPolicySettings, owner, name)
	}
	p, err := NewPolicy(name, opts)
	if err != nil {
		return nil, fmt.Errorf("%s fallback: %w", owner, err)
	}
	return p, nil
}

// targetIDs precomputes the identity hash of each target by Index.
func targetIDs(targets []*Target) []targetID {
	n := 0
	for _, t := range targets {
		n = max(n, t.Index()+1)
	}
	ids := make([]targetID, n)
	for _, t := range targets {
		if i := t.Index(); i >= 0 {
			ids[i] = targetID{network: t.Network(), address: t.Address(), hash: hashTarget(t)}
		}
	}
	return ids
}

// Pick returns the target the request's key maps to, or the fallback's
// choice when the request has no key.
func (p *Hash) Pick(targets []*Target, pc *PickContext) *Target {
	if len(targets) == 1 {
		return targets[0]
	}
	key, ok := p.keyHash(pc)
	if !ok {
		return p.fallback.Pick(targets, pc)
	}
	return p.rendezvous(targets, key)
}

// keyHash returns the hash of the request's key, false when it has none.
func (p *Hash) keyHash(pc *PickContext) (uint64, bool) {
	if pc == nil {
		return 0, false
	}
	var s string
	switch p.kind {
	case keyClientIP:
		if !pc.ClientIP.IsValid() {
			return 0, false
		}
		// As16 writes IPv4 as ::ffff:a.b.c.d, so an address and its
		// IPv4-mapped form hash alike.
		a := pc.ClientIP.As16()
		return mix64(fnvBytes(fnvOffset, a[:])), true
	case keyPath:
		s = pc.Path
	case keyHeader:
		if pc.Header != nil {
			s = pc.Header.Get(p.name)
		}
	case keyCookie:
		s = cookieValue(pc.Header, p.name)
	case keyTemplate:
		if pc.Request != nil {
			s = p.tpl.Render(pc.Request)
		}
	}
	if s == "" {
		return 0, false
	}
	return mix64(fnvString(fnvOffset, s)), true
}

// rendezvous returns the target with the highest weighted score for key.
func (p *Hash) rendezvous(targets []*Target, key uint64) *Target {
	w0 := targets[0].Weight()
	equal := true
	for _, t := range targets[1:] {
		equal = equal && t.Weight() == w0
	}
	var best *Target
	if equal {
		// Same weight: -w/ln(u) grows with u, so compare the hashes.
		var bestH uint64
		for _, t := range targets {
			if h := mix64(key ^ p.targetHash(t)); best == nil || h > bestH {
				best, bestH = t, h
			}
		}
		return best
	}
	bestScore := math.Inf(-1)
	for _, t := range targets {
		h := mix64(key ^ p.targetHash(t))
		// u in (0, 1): the top 53 bits, centred so that u is never 0 or 1.
		u := (float64(h>>11) + 0.5) / (1 << 53)
		if score := -float64(t.Weight()) / math.Log(u); score > bestScore {
			best, bestScore = t, score
		}
	}
	return best
}

// targetHash returns t's identity hash, precomputed when t was known at
// construction.
func (p *Hash) targetHash(t *Target) uint64 {
	if i := t.Index(); i >= 0 && i < len(p.ids) {
		if id := &p.ids[i]; id.address == t.Address() && id.network == t.Network() {
			return id.hash
		}
	}
	return hashTarget(t)
}

// hashTarget hashes a target's identity: network and address.
func hashTarget(t *Target) uint64 {
	h := fnvString(fnvOffset, t.Network())
	h = fnvBytes(h, []byte{0})
	return mix64(fnvString(h, t.Address()))
}

// FNV-1a, 64 bit (draft-eastlake-fnv), finished with mix64: a stable
// hash, the same on every instance and every release, so that several
// Gatehouse instances map a key to the same target.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// mix64 is MurmurHash3's 64-bit finaliser (fmix64): it spreads FNV's weak
// high bits so that every output bit depends on every input bit.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
