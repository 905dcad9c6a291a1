package config

// TLS settings of a listener (docs/tls.md). A TLS listener gets its
// certificates from files (Cert/Key and Certificates, chosen by SNI), from
// ACME (automatic HTTPS), from the internal CA, or from several of these;
// the first source that has a certificate for the SNI name wins, in the
// order files, ACME, internal.
type ListenerTLS struct {
	// Cert and Key are one certificate and key (PEM files). Kept for the
	// simple case; equivalent to a one-entry Certificates.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Certificates are more certificate/key pairs; each is served for the
	// names in its certificate (exact and wildcard SANs). The first one is
	// the default for clients without SNI or with an unknown name.
	Certificates []CertificateFiles `yaml:"certificates"`
	// ACME obtains and renews certificates automatically.
	ACME *ACME `yaml:"acme"`
	// Internal issues certificates from Gatehouse's own local CA for
	// development names (localhost, *.internal, *.localhost).
	Internal *InternalCA `yaml:"internal"`
	// ClientAuth asks for / requires client certificates (mTLS).
	ClientAuth *ClientAuth `yaml:"client_auth"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// HTTP3 also serves HTTP/3 (QUIC) on the same port over UDP and
	// advertises it with Alt-Svc. Default false.
	HTTP3 bool `yaml:"http3"`
	// HSTS, when set, adds Strict-Transport-Security to every response.
	HSTS *HSTS `yaml:"hsts"`
	// RedirectHTTP names a plain listener address (e.g. ":80") whose
	// requests for this listener's hosts are redirected to https. Default:
	// on, at ":80", for ACME listeners (where HTTP-01 needs port 80 anyway)
	// and off otherwise; "off" turns it off.
	RedirectHTTP string `yaml:"redirect_http"`
}

// CertificateFiles is one certificate chain and its key (PEM files).
type CertificateFiles struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// ACME configures automatic certificates (RFC 8555) through certmagic.
type ACME struct {
	// Email is the account contact. Required by most CAs.
	Email string `yaml:"email"`
	// CA is the directory URL. Default Let's Encrypt production.
	CA string `yaml:"ca"`
	// CARoot is a PEM file of roots trusted for talking to the CA (for a
	// private or test CA such as pebble).
	CARoot string `yaml:"ca_root"`
	// Domains are obtained at start and renewed in the background.
	Domains []string `yaml:"domains"`
	// Challenges enabled: "http-01", "tls-alpn-01" (default both).
	Challenges []string `yaml:"challenges"`
	// HTTPPort and TLSALPNPort are the ports the CA connects to for the
	// challenges (defaults 80 and 443; tests use others).
	HTTPPort    int `yaml:"http_port"`
	TLSALPNPort int `yaml:"tls_alpn_port"`
	// Storage is the directory certificates and keys are kept in, when no
	// cluster.redis is configured. Default: server.data_dir + "/acme".
	Storage string `yaml:"storage"`
	// OnDemand obtains certificates at the first handshake for a name not
	// in Domains, if approved.
	OnDemand *OnDemand `yaml:"on_demand"`
	// RenewBefore renews a certificate when this share of its lifetime is
	// left, e.g. "0.33" (default, certmagic's).
	RenewWindowRatio float64 `yaml:"renew_window_ratio"`
}

// OnDemand approves names for on-demand issuance: a name must match Allow
// or be approved by Ask (GET Ask?domain=NAME answers 200).
type OnDemand struct {
	Ask   string   `yaml:"ask"`
	Allow []string `yaml:"allow"`
	// Rate bounds issuances, e.g. "10/1m". Default "10/1m".
	Rate string `yaml:"rate"`
}

// InternalCA configures the local development CA.
type InternalCA struct {
	// Names the CA issues for. Default [localhost, "*.localhost",
	// "*.internal", 127.0.0.1, ::1].
	Names []string `yaml:"names"`
	// Dir keeps the CA's root key and certificate. Default
	// server.data_dir + "/ca".
	Dir string `yaml:"dir"`
}

// ClientAuth configures client certificates.
type ClientAuth struct {
	// Mode: "require" (verified certificate required), "verify_if_given"
	// (optional; verified when sent), "request" (asked, not verified).
	// Default "require".
	Mode string `yaml:"mode"`
	// CA is the PEM bundle client certificates are verified against.
	// Required unless mode is "request".
	CA string `yaml:"ca"`
}

// HSTS configures Strict-Transport-Security (RFC 6797).
type HSTS struct {
	// MaxAge. Default 365 days.
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains adds includeSubDomains.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload adds preload.
	Preload bool `yaml:"preload"`
}
