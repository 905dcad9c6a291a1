package config

// ListenerLimits protect one listener at the connection level. Zero values
// mean "no limit".
type ListenerLimits struct {
	// MaxConns bounds the open connections of the listener; past it new
	// connections are closed at once. Default 0 (none).
	MaxConns int `yaml:"max_conns"`
	// MaxConnsPerIP bounds the open connections of one client address.
	// Default 0 (none).
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// AcceptRate bounds new connections per second (token bucket with
	// AcceptBurst). Default 0 (none).
	AcceptRate  float64 `yaml:"accept_rate"`
	AcceptBurst int     `yaml:"accept_burst"`
}

// ProxyProtocol accepts PROXY protocol headers (v1 text, v2 binary) so the
// real client address survives a TCP load balancer in front of Gatehouse.
type ProxyProtocol struct {
	// TrustedFrom lists the CIDRs/IPs of the load balancers allowed to send
	// a PROXY header. A header from anyone else is refused (the connection
	// is closed); a trusted peer's connection without one is accepted as
	// is unless Required.
	TrustedFrom []string `yaml:"trusted_from"`
	// Required refuses connections from trusted peers that send no PROXY
	// header. Default false.
	Required bool `yaml:"required"`
}

// MinDataRate is the slowest a client may send a request head or body.
type MinDataRate struct {
	// BytesPerSecond is the floor, measured over Window. 0 disables it.
	// Default 0 (off).
	BytesPerSecond Size `yaml:"bytes_per_second"`
	// Window is the span over which the rate is averaged, and the grace
	// before it applies. Default 10s.
	Window Duration `yaml:"window"`
}
