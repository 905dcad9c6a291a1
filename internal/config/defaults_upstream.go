package config

import "time"

// Balancing policies (upstreams.*.policy). docs/upstreams.md says when to
// use each.
const (
	// PolicyRoundRobin takes the targets in turn.
	PolicyRoundRobin = "round_robin"
	// PolicyWeighted is smooth weighted round robin (target weights).
	PolicyWeighted = "weighted"
	// PolicyRandom picks uniformly at random.
	PolicyRandom = "random"
	// PolicyLeastConn picks the target with the fewest in-flight requests.
	PolicyLeastConn = "least_conn"
	// PolicyP2CEWMA picks the better of two random targets by peak-EWMA
	// latency × in-flight requests.
	PolicyP2CEWMA = "p2c_ewma"
	// PolicyHash maps a request key to a target by rendezvous hashing.
	PolicyHash = "hash"
	// PolicyFirst takes the first available target in listed order.
	PolicyFirst = "first"
	// PolicyCookie keeps a client on one target with a signed cookie.
	PolicyCookie = "cookie"
)

// Policies lists the valid upstream policies.
var Policies = []string{PolicyRoundRobin, PolicyWeighted, PolicyRandom, PolicyLeastConn,
	PolicyP2CEWMA, PolicyHash, PolicyFirst, PolicyCookie}

// FallbackPolicies are the policies allowed as hash.fallback and
// sticky.fallback (not hash or cookie themselves).
var FallbackPolicies = []string{PolicyRoundRobin, PolicyWeighted, PolicyRandom, PolicyLeastConn,
	PolicyP2CEWMA, PolicyFirst}

// Retry conditions (upstreams.*.retries.on).
const (
	RetryConnectFailure = "connect_failure"
	RetryReset          = "reset"
	RetryTimeout        = "timeout"
	Retry502            = "502"
	Retry503            = "503"
	Retry504            = "504"
)

// RetryConditions lists the valid retries.on values.
var RetryConditions = []string{RetryConnectFailure, RetryReset, RetryTimeout, Retry502, Retry503, Retry504}

// Health check types (upstreams.*.health_check.type).
const (
	HealthHTTP = "http"
	HealthTCP  = "tcp"
)

// Upstream defaults.
const (
	// DefaultPolicy is upstreams.*.policy.
	DefaultPolicy = PolicyP2CEWMA
	// DefaultMaxIdlePerTarget is upstreams.*.max_idle_per_target.
	DefaultMaxIdlePerTarget = 1024
	// DefaultIdleConnTimeout is upstreams.*.idle_conn_timeout.
	DefaultIdleConnTimeout = Duration(90 * time.Second)
	// DefaultTargetWeight is a target's weight without " weight=N".
	DefaultTargetWeight = 1
	// MaxTargetWeight bounds " weight=N".
	MaxTargetWeight = 1000

	// DefaultHashKey is upstreams.*.hash.key.
	DefaultHashKey = "client_ip"
	// DefaultStickyCookie is upstreams.*.sticky.name.
	DefaultStickyCookie = "gh_sticky"

	// DefaultHealthType is health_check.type.
	DefaultHealthType = HealthHTTP
	// DefaultHealthPath is health_check.path.
	DefaultHealthPath = "/"
	// DefaultHealthMethod is health_check.method.
	DefaultHealthMethod = "GET"
	// DefaultHealthStatus is health_check.status.
	DefaultHealthStatus = "200-399"
	// DefaultHealthInterval is health_check.interval.
	DefaultHealthInterval = Duration(5 * time.Second)
	// DefaultHealthTimeout is health_check.timeout.
	DefaultHealthTimeout = Duration(2 * time.Second)
	// DefaultHealthRise is health_check.rise.
	DefaultHealthRise = 2
	// DefaultHealthFall is health_check.fall.
	DefaultHealthFall = 3

	// DefaultConsecutiveFailures is passive_health.consecutive_failures.
	DefaultConsecutiveFailures = 5
	// DefaultErrorRateWindow is passive_health.window.
	DefaultErrorRateWindow = Duration(10 * time.Second)
	// DefaultErrorRateMinRequests is passive_health.min_requests.
	DefaultErrorRateMinRequests = 20
	// DefaultBaseEjection is passive_health.base_ejection.
	DefaultBaseEjection = Duration(10 * time.Second)
	// DefaultMaxEjection is passive_health.max_ejection.
	DefaultMaxEjection = Duration(5 * time.Minute)
	// DefaultMaxEjectedPercent is passive_health.max_ejected_percent.
	DefaultMaxEjectedPercent = 50

	// DefaultRetryAttempts is retries.attempts.
	DefaultRetryAttempts = 2
	// DefaultRetryMaxBufferedBody is retries.max_buffered_body.
	DefaultRetryMaxBufferedBody = 64 * KiB
	// DefaultRetryBudgetPercent is retries.budget_percent.
	DefaultRetryBudgetPercent = 20
	// DefaultMinRetriesPerSecond is retries.min_retries_per_second.
	DefaultMinRetriesPerSecond = 3
	// RetryBudgetWindow is the window the retry budget counts over.
	RetryBudgetWindow = 10 * time.Second
)

// DefaultRetryOn is retries.on. Call it for a fresh slice.
func DefaultRetryOn() []string {
	return []string{RetryConnectFailure, RetryReset, Retry502, Retry503}
}

// applyDefaults fills an upstream's unset fields.
func (u *Upstream) applyDefaults() {
	setDefault(&u.Policy, DefaultPolicy)
	setDefault(&u.MaxIdlePerTarget, DefaultMaxIdlePerTarget)
	setDefault(&u.IdleConnTimeout, DefaultIdleConnTimeout)
	if u.Hash != nil {
		setDefault(&u.Hash.Key, DefaultHashKey)
		setDefault(&u.Hash.Fallback, DefaultPolicy)
	}
	if u.Sticky != nil {
		setDefault(&u.Sticky.Name, DefaultStickyCookie)
		setDefault(&u.Sticky.Fallback, DefaultPolicy)
	}
	if h := u.HealthCheck; h != nil {
		setDefault(&h.Type, DefaultHealthType)
		if h.Type == HealthHTTP {
			setDefault(&h.Path, DefaultHealthPath)
			setDefault(&h.Method, DefaultHealthMethod)
			setDefault(&h.Status, DefaultHealthStatus)
		}
		setDefault(&h.Interval, DefaultHealthInterval)
		setDefault(&h.Timeout, DefaultHealthTimeout)
		setDefault(&h.Rise, DefaultHealthRise)
		setDefault(&h.Fall, DefaultHealthFall)
	}
	p := &u.Passive
	setDefault(&p.ConsecutiveFailures, DefaultConsecutiveFailures)
	setDefault(&p.Window, DefaultErrorRateWindow)
	setDefault(&p.MinRequests, DefaultErrorRateMinRequests)
	setDefault(&p.BaseEjection, DefaultBaseEjection)
	setDefault(&p.MaxEjection, DefaultMaxEjection)
	setDefault(&p.MaxEjectedPercent, DefaultMaxEjectedPercent)
	u.Retries.applyDefaults()
}

// applyRouteDefaults fills a route's retry settings, except the budget:
// that belongs to the upstream (validation refuses it on a route).
func (r *Retries) applyRouteDefaults() {
	budget, minPerSec := r.BudgetPercent, r.MinRetriesPerSecond
	r.applyDefaults()
	r.BudgetPercent, r.MinRetriesPerSecond = budget, minPerSec
}

// applyDefaults fills unset retry settings.
func (r *Retries) applyDefaults() {
	if r.Attempts == nil {
		r.Attempts = ptr(DefaultRetryAttempts)
	}
	if len(r.On) == 0 {
		r.On = DefaultRetryOn()
	}
	setDefault(&r.MaxBufferedBody, DefaultRetryMaxBufferedBody)
	if r.BudgetPercent == nil {
		r.BudgetPercent = ptr(DefaultRetryBudgetPercent)
	}
	if r.MinRetriesPerSecond == nil {
		r.MinRetriesPerSecond = ptr(DefaultMinRetriesPerSecond)
	}
}
