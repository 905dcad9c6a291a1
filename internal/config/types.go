package config

// The configuration schema as plain Go types. Loading (strict YAML with
// positions), defaults and validation live in load.go, defaults.go and
// validate.go; nothing here holds a runtime object.
//
// YAML keys are snake_case. Every field has a safe default (defaults.go), so
// the minimal file in docs/configuration.md is valid as written.

// Config is one whole configuration file, decoded, defaulted and validated.
// It is plain data: safe to share read-only between goroutines.
type Config struct {
	Server    Server              `yaml:"server"`
	Listeners []Listener          `yaml:"listeners"`
	Routes    []Route             `yaml:"routes"`
	Upstreams map[string]Upstream `yaml:"upstreams"`
	Log       Log                 `yaml:"log"`
	// Cluster configures state shared between Gatehouse instances
	// (types_cluster.go).
	Cluster Cluster `yaml:"cluster"`
	// Admin, when set, serves the admin API (types_admin.go). Default off.
	Admin *Admin `yaml:"admin"`

	// File is the path the configuration was read from ("" for a config built
	// in code, such as quick mode's); used in error positions.
	File string `yaml:"-"`
	// src keeps the parsed document so that later stages (runtime compile,
	// middleware decoding) can report positions; nil for configs built in code.
	src *source
}

// Server holds settings of the client side that apply to every listener.
type Server struct {
	// Engine selects the HTTP/1.1 implementation of plain listeners:
	// "native" (default: Gatehouse's own engine, handing to net/http what
	// it does not serve natively) or "nethttp".
	Engine string `yaml:"engine"`
	// ReadHeaderTimeout bounds reading a request head (slowloris). Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds the gap between reads of a request body: a client
	// that stops sending for this long is cut off. Default 60s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds each wait for the client to accept response
	// bytes: a client that stops reading for this long is cut off (its
	// upstream exchange ends), while a response that keeps moving is never
	// cut, however long it runs (nginx's send_timeout). Default 60s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the request head; past it the client gets 431.
	// Default 64KB.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// MaxURIBytes bounds the request target; past it the client gets 414.
	// Default 8KB.
	MaxURIBytes Size `yaml:"max_uri_bytes"`
	// ShutdownTimeout is how long SIGTERM waits for in-flight requests and
	// streams before closing them. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// TrustedProxies lists CIDRs (or single IPs) whose X-Forwarded-* and
	// X-Request-ID headers are believed. From anyone else they are replaced.
	// Default: none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RequestID configures the request ID header.
	RequestID RequestID `yaml:"request_id"`
	// DataDir is where Gatehouse keeps state on disk: the internal CA
	// (DataDir/ca) and ACME certificates without a cluster (DataDir/acme).
	// Default: the user's configuration directory + "/gatehouse" (e.g.
	// ~/.config/gatehouse), writable without root.
	DataDir string `yaml:"data_dir"`
	// MinDataRate cuts off clients that send request heads or bodies
	// slower than a floor (slowloris), without cutting large uploads that
	// keep moving (types_protect.go).
	MinDataRate MinDataRate `yaml:"min_data_rate"`
}

// RequestID configures request IDs.
type RequestID struct {
	// Header names the header carrying the ID in both directions.
	// Default "X-Request-ID".
	Header string `yaml:"header"`
	// Disabled turns request IDs off entirely. Default false.
	Disabled bool `yaml:"disabled"`
}

// Listener is one socket Gatehouse accepts connections on.
type Listener struct {
	// Name identifies the listener in logs; defaults to its address.
	Name string `yaml:"name"`
	// Address is host:port (":8080", "127.0.0.1:8080", "[::1]:8443").
	Address string `yaml:"address"`
	// TLS, when set, terminates TLS on this listener (types_tls.go).
	TLS *ListenerTLS `yaml:"tls"`
	// H2C accepts cleartext HTTP/2 (prior knowledge and "Upgrade: h2c") on
	// this plain listener. Default false.
	H2C bool `yaml:"h2c"`
	// RedirectTo is set on the plain listeners Gatehouse adds for a TLS
	// listener's tls.redirect_http (defaults_tls.go): the TLS listener's
	// name. Such a listener answers ACME HTTP-01 challenges and redirects
	// everything else to https. Not settable in a file.
	RedirectTo string `yaml:"-"`
	// Limits protect the listener at the connection level
	// (types_protect.go).
	Limits ListenerLimits `yaml:"limits"`
	// ProxyProtocol accepts the PROXY protocol (v1/v2) from trusted load
	// balancers (types_protect.go). Nil: off.
	ProxyProtocol *ProxyProtocol `yaml:"proxy_protocol"`
}

// Route is one routing rule: a match, a middleware chain and exactly one
// terminal action (Upstream, Redirect, Respond or Static).
type Route struct {
	// Name identifies the route in logs and `explain`; defaults to
	// "route#N" (N = 1-based position in the file).
	Name string `yaml:"name"`
	// Priority, when non-zero, overrides the computed precedence: higher
	// wins. Default 0 (precedence by specificity, then file order).
	Priority int   `yaml:"priority"`
	Match    Match `yaml:"match"`
	// Middleware is the chain, in order. Each entry is a one-key map from a
	// registered middleware name to its own config, decoded by that
	// middleware's constructor (see internal/middleware).
	Middleware []MiddlewareSpec `yaml:"middleware"`

	Upstream string    `yaml:"upstream"`
	Redirect *Redirect `yaml:"redirect"`
	Respond  *Respond  `yaml:"respond"`
	Static   *Static   `yaml:"static"`

	// PreserveHost sends the client's Host upstream (default true); false
	// sends the target's host:port.
	PreserveHost *bool `yaml:"preserve_host"`
	// Timeouts for the upstream exchange; unset fields inherit the
	// upstream's, then the defaults.
	Timeouts Timeouts `yaml:"timeouts"`
	// Retries, when set, replaces the upstream's retry settings for this
	// route (e.g. to opt a POST route into retries).
	Retries *Retries `yaml:"retries"`
	// Methods allowed that are refused by default (CONNECT, TRACE) must be
	// listed in Match.Methods explicitly; nothing else is needed here.
}

// Match selects requests. Empty fields match anything. Host and Path accept a
// single string or a list (any of them matches).
type Match struct {
	// Host: exact ("api.example.com") or wildcard ("*.example.com", one or
	// more labels). Compared case-insensitively, port ignored.
	Host StringList `yaml:"host"`
	// Path: exact ("/health"), prefix ("/v1/*" matches "/v1" and "/v1/..."),
	// or regex when written "~^/items/[0-9]+$".
	Path StringList `yaml:"path"`
	// Methods: upper-case method names.
	Methods []string `yaml:"methods"`
	// Headers: name → value. Value "*" means present, "~re" a regex, anything
	// else an exact (case-sensitive) value.
	Headers map[string]string `yaml:"headers"`
	// Query: parameter → value, same value syntax as Headers.
	Query map[string]string `yaml:"query"`
}

// MiddlewareSpec is one chain entry. Config is the raw YAML node of the
// middleware's own settings; the middleware decodes it strictly with
// DecodeMiddleware, so errors carry the file position.
type MiddlewareSpec struct {
	Name string
	// Path is the YAML path of the settings node, e.g. "$.routes[0].middleware[1].headers".
	Path string
	// raw holds the settings node (nil when the name had no settings).
	raw any
}

// Redirect answers with a redirect. Placeholders in To: {path}, {query}
// (without '?'), {uri} (path plus '?query' when present), {host}, {scheme}.
type Redirect struct {
	To string `yaml:"to"`
	// Status: 301, 302, 303, 307 or 308. Default 302.
	Status int `yaml:"status"`
}

// Respond answers with a fixed response.
type Respond struct {
	// Status default 200.
	Status  int               `yaml:"status"`
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
}

// Static serves files from a directory.
type Static struct {
	Root string `yaml:"root"`
	// Index files tried for a directory. Default ["index.html"].
	Index []string `yaml:"index"`
	// Browse lists directories without an index file. Default false.
	Browse bool `yaml:"browse"`
	// StripPrefix is removed from the path before looking up the file; by
	// default the prefix of a "/x/*" path match is stripped.
	StripPrefix *string `yaml:"strip_prefix"`
	// Precompressed lists the content codings whose pre-compressed files
	// (FILE.br, FILE.zst, FILE.gz beside FILE) are served to clients that
	// accept them, in server preference order: br, zstd, gzip. Default
	// none. Validated by the static action.
	Precompressed []string `yaml:"precompressed"`
}

// Timeouts of an upstream exchange. Zero means "inherit".
type Timeouts struct {
	// Connect bounds dialing a target. Default 5s.
	Connect Duration `yaml:"connect"`
	// ResponseHeader bounds the wait from the request being sent to the
	// response head (models can think for minutes). Default 5m.
	ResponseHeader Duration `yaml:"response_header"`
	// Idle bounds the gap between two reads of the response body (and of the
	// request body being sent). Default 5m.
	Idle Duration `yaml:"idle"`
	// Total bounds the whole exchange. Default 0: none, so streams are
	// never cut while they make progress.
	Total Duration `yaml:"total"`
}

// Upstream is a named group of targets (types_upstream.go holds its
// balancing, health, retry and transport settings).
type Upstream struct {
	// Targets: "host:port", "http://host:port", "h2c://host:port",
	// "https://host:port" or "unix:/path/to.sock", each optionally followed
	// by " weight=N" (1 to 1000, default 1). All targets of one upstream
	// use the same scheme.
	Targets []string `yaml:"targets"`
	// Policy picks a target: round_robin, weighted, random, least_conn,
	// p2c_ewma, hash, first or cookie. Default p2c_ewma (round_robin for a
	// single target, where all policies agree).
	Policy string `yaml:"policy"`
	// Hash configures policy "hash".
	Hash *HashPolicy `yaml:"hash"`
	// Sticky configures policy "cookie".
	Sticky *StickyCookie `yaml:"sticky"`
	// HealthCheck turns on active health checks. Nil: off.
	HealthCheck *HealthCheck `yaml:"health_check"`
	// Passive configures passive health (outlier ejection); on by default.
	Passive PassiveHealth `yaml:"passive_health"`
	// CircuitBreaker bounds concurrent and pending requests.
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker"`
	// SlowStart ramps a target's share of traffic over this window after it
	// comes back or is added. Default 0 (off).
	SlowStart Duration `yaml:"slow_start"`
	// Retries configures retries for routes to this upstream.
	Retries Retries `yaml:"retries"`
	// TLS configures connections to https:// targets.
	TLS *UpstreamTLS `yaml:"tls"`
	// ResolveInterval, when set, re-resolves host names in targets this
	// often; every address of a name becomes a target. Default 0: a name
	// is one target, resolved at each connect.
	ResolveInterval Duration `yaml:"resolve_interval"`
	// MaxIdlePerTarget bounds the idle keep-alive connections kept per
	// target. Default 1024.
	MaxIdlePerTarget int `yaml:"max_idle_per_target"`
	// MaxConnsPerTarget bounds all connections per target (0 = no bound).
	MaxConnsPerTarget int `yaml:"max_conns_per_target"`
	// IdleConnTimeout closes pooled connections idle this long. Default 90s.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// Timeouts are the defaults for routes to this upstream.
	Timeouts Timeouts `yaml:"timeouts"`
}

// Log configures logging.
type Log struct {
	// Level: debug, info (default), warn, error.
	Level string `yaml:"level"`
	// Format of the error log: json (default) or text.
	Format string `yaml:"format"`
	// Output of the error log: stderr (default), stdout or a file path.
	Output string    `yaml:"output"`
	Access AccessLog `yaml:"access"`
}

// AccessLog configures the per-request JSON access log.
type AccessLog struct {
	// Enabled default true.
	Enabled *bool `yaml:"enabled"`
	// Output: stdout (default), stderr or a file path (appended to).
	Output string `yaml:"output"`
}
