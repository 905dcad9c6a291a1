package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Zero fields of a config.Upstream that was not passed through
// config.Normalize get the documented defaults here too: a zero
// MaxIdleConnsPerHost would otherwise mean Go's 2, which collapses under a
// thousand concurrent clients into a dial per request.
const (
	fallbackMaxIdlePerTarget = config.DefaultMaxIdlePerTarget
	fallbackIdleConnTimeout  = time.Duration(config.DefaultIdleConnTimeout)
	fallbackConnectTimeout   = time.Duration(config.DefaultConnectTimeout)
	// bufferSize is the transport's per-connection read and write buffer:
	// 32 KiB moves a typical body in few syscalls (Go's default is 4 KiB).
	bufferSize = 32 << 10
	// maxResponseHeaderBytes bounds a backend's response head.
	maxResponseHeaderBytes = 1 << 20
	// expectContinueTimeout is how long a request with "Expect:
	// 100-continue" waits for the backend's 100 before sending the body
	// anyway (RFC 9110 section 10.1.1 lets a client stop waiting).
	expectContinueTimeout = time.Second
)

// Pool is a named group of targets with one balancing policy, one health
// state and one connection pool (an http.RoundTripper) shared by all its
// targets. Its configuration is immutable after NewPool; its target list
// may change when DNS names are re-resolved (resolve.go); its counters and
// health state change all the time. Safe for concurrent use.
type Pool struct {
	name       string
	cfg        config.Upstream
	policyName string
	policy     Policy
	set        atomic.Pointer[targetSet]
	transport  http.RoundTripper
	closeIdle  func()
	identity   string
	health     *Health
	opts       PoolOptions
	dial       *dialer
	stop       chan struct{}
	reasons    [reasonCount]string
	startOnce  sync.Once
	closeOnce  sync.Once
}

// targetSet is one generation of a pool's targets. Replaced as a whole.
type targetSet struct {
	list   []*Target
	byHost map[string]*Target // URLHost → target (the dialer's map)
}

// PoolOptions inject the clock, randomness and logger (DESIGN.md); zero
// values get real ones.
type PoolOptions struct {
	Now    func() time.Time
	Rand   func() uint64
	Logger *slog.Logger
	// Resolver looks up host names of targets when resolve_interval is
	// set. nil: net.DefaultResolver.
	Resolver *net.Resolver
}

func (o *PoolOptions) fill() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Uint64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
}

// NewPool builds the pool named name from cfg: it parses the targets,
// creates the policy, the health state and the transport. It does not dial
// and starts no goroutine (Start does). Errors (bad target, unknown policy,
// negative limits, unreadable TLS files) are wrapped with the pool name. An
// empty target list is valid: Pick then fails with protocol.ErrNoTarget.
func NewPool(name string, cfg config.Upstream, opts PoolOptions) (*Pool, error) {
	opts.fill()
	policyName := cfg.Policy
	if policyName == "" {
		policyName = config.DefaultPolicy
	}
	if cfg.MaxIdlePerTarget < 0 || cfg.MaxConnsPerTarget < 0 || cfg.IdleConnTimeout < 0 {
		return nil, fmt.Errorf("upstream %q: max_idle_per_target, max_conns_per_target and idle_conn_timeout must not be negative", name)
	}
	p := &Pool{name: name, cfg: cfg, policyName: policyName, opts: opts, stop: make(chan struct{}), reasons: pickReasons(policyName)}
	p.dial = &dialer{
		net: net.Dialer{
			// No Timeout here: the bound is per route (WithConnectTimeout).
			KeepAlive: 30 * time.Second,
		},
		pool:     p,
		fallback: fallbackConnectTimeout,
	}
	var errs []error
	var targets []*Target
	seen := make(map[string]bool, len(cfg.Targets))
	now := opts.Now().UnixNano()
	for i, s := range cfg.Targets {
		t, err := ParseTarget(s, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %q targets[%d]: %w", name, i, err))
			continue
		}
		if key := t.network + " " + t.address; seen[key] {
			errs = append(errs, fmt.Errorf("upstream %q targets[%d]: %w: %q is listed twice", name, i, config.ErrBadTarget, s))
			continue
		} else {
			seen[key] = true
		}
		t.index.Store(int32(len(targets)))
		t.added = now
		targets = append(targets, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.setTargets(targets)

	policy, err := NewPolicy(policyName, PolicyOptions{
		Upstream: cfg,
		Rand:     opts.Rand,
		Now:      func() int64 { return opts.Now().UnixNano() },
		Targets:  targets,
	})
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	p.policy = policy
	if p.health, err = newHealth(name, cfg, opts); err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	if err := p.buildTransport(); err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	p.identity = identity(name, policyName, targets, cfg)
	return p, nil
}

// setTargets publishes a new generation of targets.
func (p *Pool) setTargets(list []*Target) {
	ts := &targetSet{list: list, byHost: make(map[string]*Target, len(list))}
	for i, t := range list {
		t.index.Store(int32(i))
		ts.byHost[t.urlHost] = t
	}
	p.set.Store(ts)
}

// identity is everything that makes two pools interchangeable. The config
// is rendered whole (%#v of a struct of plain values, pointers
// dereferenced by hand where they matter), so any setting change yields a
// new pool and an unchanged upstream keeps its pool, connections and
// health state across a reload.
func identity(name, policy string, targets []*Target, cfg config.Upstream) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(name))
	b.WriteString(" targets=[")
	for i, t := range targets {
		if i > 0 {
			b.WriteByte(' ')
		}
		// The parsed form, so two spellings of one target are equal.
		fmt.Fprintf(&b, "%s:%s:%s*%d", t.scheme, t.network, t.address, t.weight)
	}
	b.WriteByte(']')
	maxIdle := cfg.MaxIdlePerTarget
	if maxIdle == 0 {
		maxIdle = fallbackMaxIdlePerTarget
	}
	idle := cfg.IdleConnTimeout.D()
	if idle == 0 {
		idle = fallbackIdleConnTimeout
	}
	fmt.Fprintf(&b, " policy=%s idle=%d conns=%d idle_timeout=%s", policy, maxIdle, cfg.MaxConnsPerTarget, idle)
	if cfg.Hash != nil {
		fmt.Fprintf(&b, " hash=%#v", *cfg.Hash)
	}
	if cfg.Sticky != nil {
		fmt.Fprintf(&b, " sticky=%#v", *cfg.Sticky)
	}
	if cfg.HealthCheck != nil {
		fmt.Fprintf(&b, " check=%#v", *cfg.HealthCheck)
	}
	fmt.Fprintf(&b, " passive=%#v breaker=%#v slow=%s resolve=%s", cfg.Passive, cfg.CircuitBreaker, cfg.SlowStart, cfg.ResolveInterval)
	r := cfg.Retries
	fmt.Fprintf(&b, " retries=%v/%v/%s/%t/%d", deref(r.Attempts), r.On, r.PerTryTimeout, r.NonIdempotent, r.MaxBufferedBody)
	fmt.Fprintf(&b, " budget=%v/%v", deref(r.BudgetPercent), deref(r.MinRetriesPerSecond))
	if cfg.TLS != nil {
		fmt.Fprintf(&b, " tls=%#v", *cfg.TLS)
	}
	return b.String()
}

func deref(p *int) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// Pick chooses a target for one request with the pool's policy, among the
// available targets not in pc.Tried; when none is, among the down or
// ejected ones rather than failing without trying (pool_pick.go). It fails
// with protocol.ErrNoTarget when the pool has no targets, and with an
// error wrapping protocol.ErrOverloaded when every target is at its
// circuit-breaker bound. It does not allocate.
func (p *Pool) Pick(pc *PickContext) (*Target, error) {
	list := p.set.Load().list
	if len(list) == 0 {
		return nil, protocol.ErrNoTarget
	}
	return p.pick(list, pc)
}

// Transport returns the pool's one round tripper (HTTP/1.1, pooled
// connections). It dials only this pool's targets, applying the connect
// timeout found with WithConnectTimeout.
func (p *Pool) Transport() http.RoundTripper { return p.transport }

// HTTP1Only reports whether every target speaks plain HTTP/1.1 (http://
// or unix), so the own engine's client can reach them.
func (p *Pool) HTTP1Only() bool {
	for _, t := range p.set.Load().list {
		if t.scheme != "http" {
			return false
		}
	}
	return true
}

// NativeOK reports whether the own HTTP/1.1 engine can serve routes to
// this pool: HTTP/1.1 targets, and a policy that needs neither the full
// request (placeholder hash keys) nor response edits (sticky cookies).
func (p *Pool) NativeOK() bool {
	if !p.HTTP1Only() {
		return false
	}
	switch p.policyName {
	case config.PolicyCookie:
		return false
	case config.PolicyHash:
		k := config.DefaultHashKey
		if p.cfg.Hash != nil {
			k = p.cfg.Hash.Key
		}
		return !strings.Contains(k, "{")
	}
	return true
}

// Identity describes everything that makes two pools interchangeable: name,
// policy, targets and transport settings. The runtime reuses the previous
// runtime's Pool when the new config yields the same identity, so its
// connections and counters survive the reload.
func (p *Pool) Identity() string { return p.identity }

// Close closes the pool's idle connections. In-flight exchanges finish
// normally; a connection they return afterwards is kept idle until
// IdleConnTimeout. The runtime calls it once no runtime uses the pool.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		p.health.stop()
		p.closeIdle()
	})
}

// Start begins the pool's background work: active health checks and DNS
// re-resolution. The runtime calls it once for a pool it will serve with
// (never for a dry run); later calls do nothing. Close stops it.
func (p *Pool) Start() {
	p.startOnce.Do(func() {
		p.health.start(p)
		p.startResolver()
	})
}

// Name returns the pool's configured name.
func (p *Pool) Name() string { return p.name }

// PolicyName returns the name of the balancing policy in use.
func (p *Pool) PolicyName() string { return p.policyName }

// Targets returns the targets in configuration order. The slice is shared:
// callers must not modify it.
func (p *Pool) Targets() []*Target { return p.set.Load().list }

// Config returns the upstream configuration the pool was built from.
func (p *Pool) Config() config.Upstream { return p.cfg }
