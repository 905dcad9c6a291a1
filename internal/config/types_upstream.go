package config

// Balancing, health, retry and transport settings of an upstream
// (docs/upstreams.md). Every default lives in defaults_upstream.go.

// HashPolicy configures policy "hash": requests with the same key go to the
// same target, and adding or removing one of N targets remaps about 1/N of
// the keys (rendezvous hashing).
type HashPolicy struct {
	// Key is what is hashed: "client_ip" (default), "path", "header:NAME",
	// "cookie:NAME", or a placeholder expression such as
	// "{header.X-Tenant}/{query.model}". A request without the key (header
	// or cookie absent) is balanced by Fallback instead.
	Key string `yaml:"key"`
	// Fallback is the policy for requests without a key. Default p2c_ewma.
	Fallback string `yaml:"fallback"`
}

// StickyCookie configures policy "cookie": the first response sets a signed
// cookie naming the target, and later requests carrying it go back to that
// target while it is available.
type StickyCookie struct {
	// Name of the cookie. Default "gh_sticky".
	Name string `yaml:"name"`
	// Secret signs the cookie (HMAC-SHA256) so clients cannot pick a
	// target; use the same secret on every instance. May use ${ENV}.
	// Required.
	Secret string `yaml:"secret"`
	// MaxAge of the cookie; 0 (default) makes it a session cookie.
	MaxAge Duration `yaml:"max_age"`
	// Fallback picks the target for requests without a valid cookie, or
	// whose target is unavailable. Default p2c_ewma.
	Fallback string `yaml:"fallback"`
}

// HealthCheck configures active health checks of every target.
type HealthCheck struct {
	// Type is "http" (default) or "tcp" (connect only).
	Type string `yaml:"type"`
	// Path requested by an http check. Default "/".
	Path string `yaml:"path"`
	// Method of an http check: GET (default) or HEAD.
	Method string `yaml:"method"`
	// Host header of an http check. Default: the target's host:port.
	Host string `yaml:"host"`
	// Status is the accepted status range(s), e.g. "200-399" (default),
	// "200", "200-299,404".
	Status string `yaml:"status"`
	// Body, when set, must occur in the first 64 KiB of the response body
	// (plain substring, or a regular expression when written "~re").
	Body string `yaml:"body"`
	// Interval between two checks of one target (jittered by ±10%).
	// Default 5s.
	Interval Duration `yaml:"interval"`
	// Timeout of one check. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// Rise is how many consecutive passes mark a down target up. Default 2.
	Rise int `yaml:"rise"`
	// Fall is how many consecutive failures mark an up target down.
	// Default 3.
	Fall int `yaml:"fall"`
}

// PassiveHealth configures outlier ejection from the outcomes of real
// requests: a target that fails is taken out of rotation for a while.
type PassiveHealth struct {
	// Disabled turns passive health off. Default false (on).
	Disabled bool `yaml:"disabled"`
	// ConsecutiveFailures ejects a target after this many failures in a
	// row (connect error, reset, timeout, 502/503/504). Default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// ErrorRate ejects a target whose failure percentage over Window
	// reaches this (1-100), once it served MinRequests there. Default 0
	// (off).
	ErrorRate int `yaml:"error_rate"`
	// Window is the error-rate window. Default 10s.
	Window Duration `yaml:"window"`
	// MinRequests a target must have served in Window before its error
	// rate counts. Default 20.
	MinRequests int `yaml:"min_requests"`
	// BaseEjection is the first ejection's length; the n-th consecutive
	// ejection lasts n times as long, up to MaxEjection. Default 10s.
	BaseEjection Duration `yaml:"base_ejection"`
	// MaxEjection caps an ejection's length. Default 5m.
	MaxEjection Duration `yaml:"max_ejection"`
	// MaxEjectedPercent caps the share of targets ejected at once; at least
	// one target always stays in rotation. Default 50.
	MaxEjectedPercent int `yaml:"max_ejected_percent"`
}

// CircuitBreaker bounds the load sent to an upstream: past a limit the
// request gets 503 at once instead of queueing.
type CircuitBreaker struct {
	// MaxRequests bounds in-flight requests to the whole upstream.
	// Default 0 (no bound).
	MaxRequests int `yaml:"max_requests"`
	// MaxRequestsPerTarget bounds in-flight requests per target; a target
	// at its bound is skipped by the policy. Default 0 (no bound).
	MaxRequestsPerTarget int `yaml:"max_requests_per_target"`
	// MaxPending bounds requests waiting for a connection when
	// max_conns_per_target is reached. Default 0 (no bound).
	MaxPending int `yaml:"max_pending"`
}

// Retries configures re-sending a failed request to another target.
type Retries struct {
	// Attempts is the number of retries after the first try (0 = none).
	// Default 2.
	Attempts *int `yaml:"attempts"`
	// On lists what is retried: connect_failure, reset, timeout, 502, 503,
	// 504. Default [connect_failure, reset, 502, 503].
	On []string `yaml:"on"`
	// PerTryTimeout bounds each try's wait for the response head. Default 0
	// (the route's response_header timeout).
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	// NonIdempotent allows retrying POST, PATCH and other non-idempotent
	// methods on every listed condition. Default false: they are retried
	// only when the connection failed before any byte was sent.
	NonIdempotent bool `yaml:"non_idempotent"`
	// MaxBufferedBody is the largest request body kept so a request with
	// a body can be retried; larger bodies are streamed and not retried.
	// Default 64KB.
	MaxBufferedBody Size `yaml:"max_buffered_body"`
	// BudgetPercent caps retries at this percentage of the upstream's
	// requests over the last 10s, so retries cannot amplify an outage.
	// Default 20.
	BudgetPercent *int `yaml:"budget_percent"`
	// MinRetriesPerSecond are always allowed, however few requests there
	// were. Default 3.
	MinRetriesPerSecond *int `yaml:"min_retries_per_second"`
}

// UpstreamTLS configures TLS to https:// targets.
type UpstreamTLS struct {
	// CA is a PEM bundle of roots to trust instead of the system's.
	CA string `yaml:"ca"`
	// ServerName overrides the SNI name and the name verified. Default:
	// the target's host.
	ServerName string `yaml:"server_name"`
	// Cert and Key are a client certificate for upstream mTLS.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// InsecureSkipVerify disables verification of the target's
	// certificate. Logged as a warning at every load. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}
