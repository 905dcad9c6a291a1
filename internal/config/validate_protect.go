package config

import (
	"math"
	"net/netip"
)

// Defaults of the connection-level protections.
const DefaultMinDataRateWindow = Duration(10 * 1000 * 1000 * 1000) // 10s

func (c *Config) applyProtectionDefaults() {
	setDefault(&c.Server.MinDataRate.Window, DefaultMinDataRateWindow)
	for i := range c.Listeners {
		l := &c.Listeners[i].Limits
		// A bucket of one second's worth of connections: a burst as large
		// as the rate lets a client that reconnects all at once through.
		// Only for a sane rate; validation reports the others.
		if l.AcceptRate > 0 && l.AcceptRate <= math.MaxInt32 && l.AcceptBurst == 0 {
			l.AcceptBurst = int(math.Ceil(l.AcceptRate))
		}
	}
}

func (v *validator) protection() {
	for i, l := range v.c.Listeners {
		path := IndexPath("$.listeners", i)
		v.listenerLimits(path+".limits", l.Limits)
		if l.ProxyProtocol != nil {
			v.proxyProtocol(path+".proxy_protocol", l.Name, *l.ProxyProtocol)
		}
	}
	m := v.c.Server.MinDataRate
	if m.BytesPerSecond < 0 {
		v.add("$.server.min_data_rate.bytes_per_second", sizeHint+"; 0 turns the check off", "server.min_data_rate.bytes_per_second must not be negative")
	}
	v.nonNegative("$.server.min_data_rate.window", "server.min_data_rate.window", m.Window)
}

func (v *validator) listenerLimits(path string, l ListenerLimits) {
	const hint = "0 means no limit"
	if l.MaxConns < 0 {
		v.add(path+".max_conns", hint, "limits.max_conns must not be negative")
	}
	if l.MaxConnsPerIP < 0 {
		v.add(path+".max_conns_per_ip", hint, "limits.max_conns_per_ip must not be negative")
	}
	if l.AcceptRate < 0 || math.IsNaN(l.AcceptRate) || math.IsInf(l.AcceptRate, 0) || l.AcceptRate > math.MaxInt32 {
		v.add(path+".accept_rate", "new connections per second, e.g. 200; "+hint, "limits.accept_rate must be a finite number of connections per second, at least 0")
	}
	if l.AcceptBurst < 0 {
		v.add(path+".accept_burst", "0 means as many as accept_rate (rounded up)", "limits.accept_burst must not be negative")
	}
	if l.AcceptBurst > 0 && l.AcceptRate == 0 {
		v.add(path+".accept_burst", "set accept_rate too, or remove accept_burst", "limits.accept_burst has no effect without accept_rate")
	}
}

func (v *validator) proxyProtocol(path, listener string, p ProxyProtocol) {
	if len(p.TrustedFrom) == 0 {
		// Without trusted peers every header would be refused: the block
		// can only be a mistake, and accepting headers from anyone would
		// let any client spoof its address.
		v.add(path+".trusted_from",
			`list the load balancers' addresses, e.g. trusted_from: [ "10.0.0.0/8" ]`,
			"listener %q: proxy_protocol needs trusted_from: headers are accepted only from the peers listed there", listener)
	}
	for i, s := range p.TrustedFrom {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			continue
		}
		v.add(IndexPath(path+".trusted_from", i),
			`write a network as "10.0.0.0/8" or "fd00::/8", or a single address as "192.0.2.7"`,
			"proxy_protocol.trusted_from entry %q is not an IP address or CIDR network", s)
	}
}
