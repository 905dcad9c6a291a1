package config

// Cluster configures the state several Gatehouse instances share (rate-limit
// counters, certificates, cache purges). Without Redis every instance keeps
// its own state; with the same Redis configured, N instances behave as one.
type Cluster struct {
	// Redis, when set, is where shared state lives.
	Redis *Redis `yaml:"redis"`
}

// Redis is a Redis server (or a Sentinel/Cluster set, later) for shared state.
type Redis struct {
	// Address is host:port. Required.
	Address string `yaml:"address"`
	// Username and Password authenticate (ACL); may use ${ENV}.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DB selects the database. Default 0.
	DB int `yaml:"db"`
	// Prefix is put before every key Gatehouse writes. Default "gatehouse:".
	Prefix string `yaml:"prefix"`
	// Timeout bounds each Redis call; past it the caller falls back to
	// local state. Default 100ms.
	Timeout Duration `yaml:"timeout"`
}
