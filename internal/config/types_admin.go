package config

// Admin configures the admin API (internal/admin, docs/admin.md): reload,
// cache purge and status over HTTP, on a listener of its own that never
// serves routes. Nil (no `admin:` key) keeps it off.
type Admin struct {
	// Address is host:port the admin API listens on, e.g.
	// "127.0.0.1:9901". Required. A non-loopback address also requires
	// Token.
	Address string `yaml:"address"`
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// every admin request; write it as "${ADMIN_TOKEN}" to keep it out of
	// the file. Default none (only allowed on a loopback address).
	Token string `yaml:"token"`
}
