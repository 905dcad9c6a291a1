package config

import (
	"strconv"
	"time"
)

// Every default value of the configuration lives here (STYLE.md: no hidden
// defaults). docs/configuration.md lists the same values; other packages
// refer to these names rather than repeating a number.
const (
	// DefaultEngine is server.engine.
	DefaultEngine = EngineNative
	// DefaultReadHeaderTimeout is server.read_header_timeout.
	DefaultReadHeaderTimeout = Duration(10 * time.Second)
	// DefaultReadTimeout is server.read_timeout.
	DefaultReadTimeout = Duration(60 * time.Second)
	// DefaultWriteTimeout is server.write_timeout.
	DefaultWriteTimeout = Duration(60 * time.Second)
	// DefaultIdleTimeout is server.idle_timeout.
	DefaultIdleTimeout = Duration(120 * time.Second)
	// DefaultMaxHeaderBytes is server.max_header_bytes.
	DefaultMaxHeaderBytes = 64 * KiB
	// DefaultMaxURIBytes is server.max_uri_bytes.
	DefaultMaxURIBytes = 8 * KiB
	// DefaultShutdownTimeout is server.shutdown_timeout.
	DefaultShutdownTimeout = Duration(30 * time.Second)
	// DefaultRequestIDHeader is server.request_id.header.
	DefaultRequestIDHeader = "X-Request-ID"

	// DefaultPreserveHost is routes[].preserve_host.
	DefaultPreserveHost = true
	// DefaultRedirectStatus is routes[].redirect.status.
	DefaultRedirectStatus = 302
	// DefaultRespondStatus is routes[].respond.status.
	DefaultRespondStatus = 200
	// DefaultRouteNamePrefix: an unnamed route is called "route#N", N its
	// 1-based position in the file.
	DefaultRouteNamePrefix = "route#"

	// DefaultConnectTimeout is timeouts.connect (route > upstream > this).
	DefaultConnectTimeout = Duration(5 * time.Second)
	// DefaultResponseHeaderTimeout is timeouts.response_header: long,
	// because a model may think for minutes before its first byte.
	DefaultResponseHeaderTimeout = Duration(5 * time.Minute)
	// DefaultIdleTimeoutUpstream is timeouts.idle, the longest gap between
	// two reads of a body in either direction.
	DefaultIdleTimeoutUpstream = Duration(5 * time.Minute)
	// DefaultTotalTimeout is timeouts.total: 0, no bound, so a stream is
	// never cut while it makes progress.
	DefaultTotalTimeout = Duration(0)

	// DefaultLogLevel is log.level.
	DefaultLogLevel = "info"
	// DefaultLogFormat is log.format.
	DefaultLogFormat = "json"
	// DefaultLogOutput is log.output.
	DefaultLogOutput = "stderr"
	// DefaultAccessLogEnabled is log.access.enabled.
	DefaultAccessLogEnabled = true
	// DefaultAccessLogOutput is log.access.output.
	DefaultAccessLogOutput = "stdout"
)

// DefaultStaticIndex is routes[].static.index. Call it for a fresh slice.
func DefaultStaticIndex() []string { return []string{"index.html"} }

// DefaultTimeouts returns the built-in timeouts, the last level of the
// route > upstream > default inheritance.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Connect:        DefaultConnectTimeout,
		ResponseHeader: DefaultResponseHeaderTimeout,
		Idle:           DefaultIdleTimeoutUpstream,
		Total:          DefaultTotalTimeout,
	}
}

// applyDefaults fills every zero field with its default. It is idempotent.
// Route timeouts are resolved here (route, else its upstream, else the
// default), so the runtime reads concrete values only.
func (c *Config) applyDefaults() {
	c.applyClusterDefaults()
	c.applyProtectionDefaults()
	s := &c.Server
	setDefault(&s.Engine, DefaultEngine)
	setDefault(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&s.ReadTimeout, DefaultReadTimeout)
	setDefault(&s.WriteTimeout, DefaultWriteTimeout)
	setDefault(&s.IdleTimeout, DefaultIdleTimeout)
	setDefault(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&s.MaxURIBytes, DefaultMaxURIBytes)
	setDefault(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&s.RequestID.Header, DefaultRequestIDHeader)

	for i := range c.Listeners {
		setDefault(&c.Listeners[i].Name, c.Listeners[i].Address)
	}
	c.applyRedirectListeners()

	for name, u := range c.Upstreams {
		u.applyDefaults()
		u.Timeouts = u.Timeouts.inherit(DefaultTimeouts())
		c.Upstreams[name] = u
	}

	for i := range c.Routes {
		r := &c.Routes[i]
		setDefault(&r.Name, DefaultRouteNamePrefix+strconv.Itoa(i+1))
		if r.PreserveHost == nil {
			r.PreserveHost = ptr(DefaultPreserveHost)
		}
		if r.Retries != nil {
			r.Retries.applyRouteDefaults()
		}
		if r.Redirect != nil {
			setDefault(&r.Redirect.Status, DefaultRedirectStatus)
		}
		if r.Respond != nil {
			setDefault(&r.Respond.Status, DefaultRespondStatus)
		}
		if r.Static != nil && len(r.Static.Index) == 0 {
			r.Static.Index = DefaultStaticIndex()
		}
		// The upstream's timeouts are already resolved against the defaults
		// above; a route without an upstream takes the defaults directly.
		r.Timeouts = r.Timeouts.inherit(c.Upstreams[r.Upstream].Timeouts).inherit(DefaultTimeouts())
	}

	setDefault(&c.Log.Level, DefaultLogLevel)
	setDefault(&c.Log.Format, DefaultLogFormat)
	setDefault(&c.Log.Output, DefaultLogOutput)
	if c.Log.Access.Enabled == nil {
		c.Log.Access.Enabled = ptr(DefaultAccessLogEnabled)
	}
	setDefault(&c.Log.Access.Output, DefaultAccessLogOutput)
}

// inherit fills t's zero fields from parent.
func (t Timeouts) inherit(parent Timeouts) Timeouts {
	setDefault(&t.Connect, parent.Connect)
	setDefault(&t.ResponseHeader, parent.ResponseHeader)
	setDefault(&t.Idle, parent.Idle)
	setDefault(&t.Total, parent.Total)
	return t
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func ptr[T any](v T) *T { return &v }

// Engines Gatehouse knows (server.engine).
const (
	// EngineNetHTTP serves HTTP/1.1 with Go's net/http.
	EngineNetHTTP = "nethttp"
	// EngineNative serves plain HTTP/1.1 with Gatehouse's own engine
	// (internal/engine) and hands what it does not serve natively to
	// net/http. TLS listeners always use net/http.
	EngineNative = "native"
)

// Engines lists the valid server.engine values.
var Engines = []string{EngineNetHTTP, EngineNative}

// Valid values of log.level and log.format.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"json", "text"}
)

// RedirectStatuses are the status codes a redirect may use (RFC 9110
// section 15.4: 301, 302, 303, 307, 308; 300 and 305 are not redirects a
// server should send on its own).
var RedirectStatuses = []int{301, 302, 303, 307, 308}
