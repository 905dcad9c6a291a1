package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
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

// Pool is a named group of targets with one balancing policy and one
// connection pool (an *http.Transport) shared by all its targets. It is
// immutable after NewPool except for counters and pooled connections, and
// safe for concurrent use.
type Pool struct {
	name       string
	policyName string
	policy     Policy
	targets    []*Target
	transport  *http.Transport
	identity   string
}

// NewPool builds the pool named name from cfg: it parses the targets,
// creates the policy and the transport. It does not dial. Errors (bad
// target, unknown policy, negative limits) are wrapped with the pool name.
// An empty target list is valid: Pick then fails with protocol.ErrNoTarget.
func NewPool(name string, cfg config.Upstream) (*Pool, error) {
	policy, err := NewPolicy(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	policyName := cfg.Policy
	if policyName == "" {
		policyName = config.DefaultPolicy
	}
	if cfg.MaxIdlePerTarget < 0 || cfg.MaxConnsPerTarget < 0 || cfg.IdleConnTimeout < 0 {
		return nil, fmt.Errorf("upstream %q: max_idle_per_target, max_conns_per_target and idle_conn_timeout must not be negative", name)
	}
	p := &Pool{name: name, policyName: policyName, policy: policy}
	d := &dialer{
		net: net.Dialer{
			// No Timeout here: the bound is per route (WithConnectTimeout).
			KeepAlive: 30 * time.Second,
		},
		byHost:   make(map[string]*Target, len(cfg.Targets)),
		fallback: fallbackConnectTimeout,
	}
	var errs []error
	seen := make(map[string]bool, len(cfg.Targets))
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
		p.targets = append(p.targets, t)
		d.byHost[t.urlHost] = t
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	maxIdle := cfg.MaxIdlePerTarget
	if maxIdle == 0 {
		maxIdle = fallbackMaxIdlePerTarget
	}
	idleTimeout := cfg.IdleConnTimeout.D()
	if idleTimeout == 0 {
		idleTimeout = fallbackIdleConnTimeout
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true) // HTTP/1.1 only for now; h2c upstreams come later.
	p.transport = &http.Transport{
		Proxy:       nil, // never take a proxy from the environment
		DialContext: d.DialContext,
		// No total bound; the per-target bound is what matters.
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: maxIdle,
		MaxConnsPerHost:     cfg.MaxConnsPerTarget, // 0 = no bound
		IdleConnTimeout:     idleTimeout,
		// The proxy bounds the wait for the response head per route.
		ResponseHeaderTimeout:  0,
		ExpectContinueTimeout:  expectContinueTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// We forward the client's Accept-Encoding as is and never add one:
		// a transparently decompressed body would change what the client
		// asked for (RFC 9110 section 12.5.3).
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		Protocols:          &protocols,
		WriteBufferSize:    bufferSize,
		ReadBufferSize:     bufferSize,
	}
	p.identity = identity(name, policyName, p.targets, maxIdle, cfg.MaxConnsPerTarget, idleTimeout)
	return p, nil
}

func identity(name, policy string, targets []*Target, maxIdle, maxConns int, idle time.Duration) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(name))
	b.WriteString(" policy=" + policy)
	b.WriteString(" targets=[")
	for i, t := range targets {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.network + ":" + t.address)
	}
	b.WriteString("] max_idle=" + strconv.Itoa(maxIdle))
	b.WriteString(" max_conns=" + strconv.Itoa(maxConns))
	b.WriteString(" idle_conn_timeout=" + idle.String())
	return b.String()
}

// Pick chooses a target for one request with the pool's policy. It fails
// with protocol.ErrNoTarget when the pool has no targets. It does not
// allocate.
func (p *Pool) Pick(pc *PickContext) (*Target, error) {
	if len(p.targets) == 0 {
		return nil, protocol.ErrNoTarget
	}
	return p.policy.Pick(p.targets, pc), nil
}

// Transport returns the pool's one round tripper (HTTP/1.1, pooled
// connections). It dials only this pool's targets, applying the connect
// timeout found with WithConnectTimeout.
func (p *Pool) Transport() http.RoundTripper { return p.transport }

// Identity describes everything that makes two pools interchangeable: name,
// policy, targets and transport settings. The runtime reuses the previous
// runtime's Pool when the new config yields the same identity, so its
// connections and counters survive the reload.
func (p *Pool) Identity() string { return p.identity }

// Close closes the pool's idle connections. In-flight exchanges finish
// normally; a connection they return afterwards is kept idle until
// IdleConnTimeout. The runtime calls it once no runtime uses the pool.
func (p *Pool) Close() { p.transport.CloseIdleConnections() }

// Name returns the pool's configured name.
func (p *Pool) Name() string { return p.name }

// PolicyName returns the name of the balancing policy in use.
func (p *Pool) PolicyName() string { return p.policyName }

// Targets returns the targets in configuration order. The slice is shared:
// callers must not modify it.
func (p *Pool) Targets() []*Target { return p.targets }
