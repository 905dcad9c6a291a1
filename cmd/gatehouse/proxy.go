package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// cmdProxy is quick mode: it compiles its flags into the same config type a
// file produces, so it runs exactly the code path of `gatehouse run`.
func cmdProxy(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("proxy", "--from ADDR --to URL [--to URL ...] [--tls-cert FILE --tls-key FILE]", stderr)
	from := fs.String("from", ":8080", "address to listen on (host:port)")
	var to multiFlag
	fs.Var(&to, "to", "upstream target: http://host:port, h2c://host:port, https://host:port, host:port or unix:/path, optionally \"URL weight=N\" (repeatable)")
	lb := fs.String("lb", "", "balancing policy: "+strings.Join(config.Policies, ", ")+" (default "+config.DefaultPolicy+"; hash uses the client IP, cookie needs a file config)")
	healthPath := fs.String("health-path", "", "turn on active health checks: GET this path on every target every 5s (2xx/3xx = healthy)")
	cert := fs.String("tls-cert", "", "PEM certificate: serve HTTPS (with HTTP/2) instead of HTTP")
	key := fs.String("tls-key", "", "PEM private key for --tls-cert")
	acmeEmail := fs.String("acme", "", "automatic HTTPS: obtain certificates for --domain names with ACME, this e-mail as the account contact (listens on :443 unless --from is given)")
	var domains multiFlag
	fs.Var(&domains, "domain", "a name to obtain a certificate for, with --acme (repeatable)")
	acmeCA := fs.String("acme-ca", "", "ACME directory URL, with --acme (default Let's Encrypt)")
	acmeCARoot := fs.String("acme-ca-root", "", "PEM roots to trust for talking to a private ACME CA, with --acme")
	redirectHTTP := fs.String("redirect-http", "", `with --acme: plain-HTTP address answering HTTP-01 challenges and redirecting to HTTPS (default ":80"; "off" for none)`)
	accessLog := fs.Bool("access-log", false, "write a JSON access-log line per request to stdout")
	cache := fs.Bool("cache", false, "cache responses (shared HTTP cache, RFC 9111; see docs/cache.md)")
	cacheSize := fs.String("cache-size", "256MB", "memory the cache may use, with --cache")
	compress := fs.Bool("compress", false, "compress responses (zstd, br, gzip; see docs/compression.md)")
	engine := fs.String("engine", "", "HTTP/1.1 engine: native or nethttp (default: the configuration default, "+config.DefaultEngine+")")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 || len(to) == 0 || (*cert == "") != (*key == "") {
		switch {
		case len(to) == 0:
			fmt.Fprintln(stderr, "gatehouse proxy: at least one --to is required")
		case (*cert == "") != (*key == ""):
			fmt.Fprintln(stderr, "gatehouse proxy: --tls-cert and --tls-key go together")
		}
		fs.Usage()
		return exitUsage
	}
	if *acmeEmail != "" && (*cert != "" || len(domains) == 0) {
		fmt.Fprintln(stderr, "gatehouse proxy: --acme needs at least one --domain and no --tls-cert")
		return exitUsage
	}
	if *acmeEmail == "" && (len(domains) > 0 || *acmeCA != "" || *acmeCARoot != "" || *redirectHTTP != "") {
		fmt.Fprintln(stderr, "gatehouse proxy: --domain, --acme-ca, --acme-ca-root and --redirect-http go with --acme")
		return exitUsage
	}
	if *acmeEmail != "" && !flagSet(fs, "from") {
		*from = ":443"
	}
	if *lb == config.PolicyCookie {
		fmt.Fprintln(stderr, "gatehouse proxy: --lb cookie needs a signing secret; use a config file (docs/upstreams.md)")
		return exitUsage
	}
	if *healthPath != "" && !strings.HasPrefix(*healthPath, "/") {
		fmt.Fprintln(stderr, "gatehouse proxy: --health-path must start with /")
		return exitUsage
	}
	cfg := quickConfig(*from, to, *cert, *key, *accessLog)
	cfg.Server.Engine = *engine
	up := cfg.Upstreams["upstream"]
	up.Policy = *lb
	if *healthPath != "" {
		up.HealthCheck = &config.HealthCheck{Path: *healthPath}
	}
	cfg.Upstreams["upstream"] = up
	if *acmeEmail != "" {
		cfg.Listeners[0].TLS = &config.ListenerTLS{
			ACME: &config.ACME{
				Email:   *acmeEmail,
				Domains: append([]string(nil), domains...),
				CA:      *acmeCA,
				CARoot:  *acmeCARoot,
			},
			RedirectHTTP: *redirectHTTP,
		}
	}
	// [cache, compress]: compression runs below the cache, so the cache
	// stores each encoded variant and a hit is never recompressed.
	if *cache {
		cfg.Routes[0].Middleware = append(cfg.Routes[0].Middleware, config.NewMiddlewareSpec("cache", map[string]any{"size": *cacheSize}))
	}
	if *compress {
		cfg.Routes[0].Middleware = append(cfg.Routes[0].Middleware, config.NewMiddlewareSpec("compress", nil))
	}
	if err := cfg.Normalize(); err != nil {
		printErr(stderr, err)
		return exitUsage
	}
	return serve(context.Background(), cfg, nil, "", stderr)
}

// quickConfig is the configuration quick mode runs: one listener, one
// catch-all route, one upstream; everything else at its defaults.
func quickConfig(from string, to []string, cert, key string, accessLog bool) *config.Config {
	cfg := &config.Config{
		File:      "(quick mode)",
		Listeners: []config.Listener{{Address: from}},
		Routes:    []config.Route{{Name: "proxy", Upstream: "upstream"}},
		Upstreams: map[string]config.Upstream{"upstream": {Targets: append([]string(nil), to...)}},
	}
	if cert != "" {
		cfg.Listeners[0].TLS = &config.ListenerTLS{Cert: cert, Key: key}
	}
	cfg.Log.Access.Enabled = &accessLog
	return cfg
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
