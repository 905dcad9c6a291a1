package config

// Defaults of the connection-level protections.
const DefaultMinDataRateWindow = Duration(10 * 1000 * 1000 * 1000) // 10s

func (c *Config) applyProtectionDefaults() {
	setDefault(&c.Server.MinDataRate.Window, DefaultMinDataRateWindow)
}

func (v *validator) protection() {
	for i, l := range v.c.Listeners {
		p := IndexPath("$.listeners", i) + ".limits"
		if l.Limits.MaxConns < 0 || l.Limits.MaxConnsPerIP < 0 || l.Limits.AcceptRate < 0 || l.Limits.AcceptBurst < 0 {
			v.add(p, "0 means no limit", "listener limits must not be negative")
		}
	}
	if v.c.Server.MinDataRate.BytesPerSecond < 0 {
		v.add("$.server.min_data_rate.bytes_per_second", sizeHint, "server.min_data_rate.bytes_per_second must not be negative")
	}
	v.nonNegative("$.server.min_data_rate.window", "server.min_data_rate.window", v.c.Server.MinDataRate.Window)
}
