package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Normalize applies the defaults (defaults.go) and validates the result. It
// is what Parse runs after decoding, and what a config built in code (quick
// mode) must run before it is compiled. Positions come from the parsed file
// when there is one; a config built in code reports Pos{File: c.File} and
// says in the message which listener, route or upstream is wrong. The error
// is an ErrorList (every problem, in file order) or nil. Normalize is
// idempotent.
func (c *Config) Normalize() error {
	if l := c.normalize().sorted(); len(l) > 0 {
		return l
	}
	return nil
}

func (c *Config) normalize() errs {
	c.applyDefaults()
	v := &validator{c: c}
	v.server()
	v.listeners()
	v.upstreams()
	v.routes()
	v.log()
	v.cluster()
	v.protection()
	v.admin()
	return v.errs
}

// validator collects the problems of one Config.
type validator struct {
	c    *Config
	errs errs
}

func (v *validator) add(path, hint, format string, args ...any) {
	v.errs.add(v.c.Pos(path), path, hint, format, args...)
}

// oneOf checks that got is in valid (what names the field in messages).
func (v *validator) oneOf(path, what, got string, valid []string) {
	if !slices.Contains(valid, got) {
		v.add(path, suggest(got, valid, "valid values"), "unknown %s %q", what, got)
	}
}

func (v *validator) nonNegative(path, what string, d Duration) {
	if d < 0 {
		v.add(path, durationHint, "%s must not be negative", what)
	}
}

func (v *validator) server() {
	s := v.c.Server
	v.oneOf("$.server.engine", "server.engine", s.Engine, Engines)
	v.nonNegative("$.server.read_header_timeout", "server.read_header_timeout", s.ReadHeaderTimeout)
	v.nonNegative("$.server.read_timeout", "server.read_timeout", s.ReadTimeout)
	v.nonNegative("$.server.write_timeout", "server.write_timeout", s.WriteTimeout)
	v.nonNegative("$.server.idle_timeout", "server.idle_timeout", s.IdleTimeout)
	v.nonNegative("$.server.shutdown_timeout", "server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxHeaderBytes < 0 {
		v.add("$.server.max_header_bytes", sizeHint, "server.max_header_bytes must not be negative")
	}
	if s.MaxURIBytes < 0 {
		v.add("$.server.max_uri_bytes", sizeHint, "server.max_uri_bytes must not be negative")
	}
	for i, p := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err == nil {
			continue
		}
		v.add(IndexPath("$.server.trusted_proxies", i),
			`write a network as "10.0.0.0/8" or "fd00::/8", or a single address as "192.0.2.7"`,
			"trusted proxy %q is not an IP address or CIDR network", p)
	}
	if !s.RequestID.Disabled && !protocol.IsToken(s.RequestID.Header) {
		v.add("$.server.request_id.header", `use a header name such as "X-Request-ID"`,
			"request ID header %q is not a valid header name", s.RequestID.Header)
	}
}

func (v *validator) listeners() {
	if len(v.c.Listeners) == 0 {
		v.add("$.listeners", `add one: listeners: [ { address: "127.0.0.1:8080" } ]`, "no listeners: Gatehouse needs at least one address to accept connections on")
		return
	}
	addrs, names := map[string]int{}, map[string]int{}
	for i, l := range v.c.Listeners {
		path := IndexPath("$.listeners", i)
		if l.RedirectTo != "" {
			// Added for a TLS listener's redirect_http (defaults_tls.go):
			// its address was checked there; only a clash is reported,
			// at that setting.
			norm, ok := v.redirectAddress(l.Address)
			if j, dup := addrs[norm]; ok && dup {
				v.add(v.redirectPath(l.RedirectTo), `choose a free address, or "off" and give the plain listener a redirect route`,
					"redirect_http %q is the address of listener #%d", l.Address, j+1)
			} else if ok {
				addrs[norm] = i
			}
			continue
		}
		if norm, ok := v.listenAddress(path, l.Address); ok {
			if j, dup := addrs[norm]; dup {
				v.add(path+".address", "each listener needs its own address",
					"listener address %q is already used by listener #%d", l.Address, j+1)
			} else if !strings.HasSuffix(norm, ":0") { // port 0: the OS picks a fresh one each time
				addrs[norm] = i
			}
		}
		// An unnamed listener is named after its address, already checked.
		if j, dup := names[l.Name]; dup && l.Name != l.Address {
			v.add(path+".name", "give each listener its own name", "listener name %q is already used by listener #%d", l.Name, j+1)
		} else {
			names[l.Name] = i
		}
		if l.TLS != nil {
			v.listenerTLS(path, l.Name, l.Address, l.TLS) // validate_tls.go
			if l.H2C {
				v.add(path+".h2c", "remove h2c: a TLS listener speaks HTTP/2 through ALPN already; h2c is for plain listeners",
					"listener %q: h2c on a TLS listener", l.Name)
			}
		}
	}
}

// redirectAddress normalises a redirect_http address without reporting.
func (v *validator) redirectAddress(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

// redirectPath is the position of tls.redirect_http of listener name.
func (v *validator) redirectPath(name string) string {
	for i, l := range v.c.Listeners {
		if l.Name == name && l.TLS != nil {
			return IndexPath("$.listeners", i) + ".tls.redirect_http"
		}
	}
	return "$.listeners"
}

// listenAddress validates a listen address and returns it normalised.
func (v *validator) listenAddress(path, addr string) (string, bool) {
	const hint = `write host:port, e.g. "127.0.0.1:8080", ":8080" (all interfaces) or "[::1]:8443"`
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if addr == "" {
			v.add(path, hint, "listener has no address")
		} else {
			v.add(path+".address", hint, "listener address %q is not host:port", addr)
		}
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path+".address", hint, "listener address %q: port must be a number from 0 to 65535", addr)
		return "", false
	}
	if host != "" && !validHost(host) {
		v.add(path+".address", hint, "listener address %q: %q is not an IP address or host name", addr, host)
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

// upstreamNames returns the defined upstream names, sorted.
func (c *Config) upstreamNames() []string {
	names := make([]string, 0, len(c.Upstreams))
	for n := range c.Upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (v *validator) timeouts(path string, t Timeouts) {
	v.nonNegative(path+".connect", "timeouts.connect", t.Connect)
	v.nonNegative(path+".response_header", "timeouts.response_header", t.ResponseHeader)
	v.nonNegative(path+".idle", "timeouts.idle", t.Idle)
	v.nonNegative(path+".total", "timeouts.total", t.Total)
}

func (v *validator) log() {
	l := v.c.Log
	v.oneOf("$.log.level", "log level", l.Level, LogLevels)
	v.oneOf("$.log.format", "log format", l.Format, LogFormats)
}

// upstreamHint lists the defined upstreams for "unknown upstream" errors.
func (c *Config) upstreamHint(got string) string {
	names := c.upstreamNames()
	if len(names) == 0 {
		return fmt.Sprintf("no upstreams are defined; add one under upstreams: { %s: { targets: [ \"10.0.0.5:8080\" ] } }", got)
	}
	hint := "defined upstreams: " + strings.Join(names, ", ")
	if s := suggest(got, names, ""); strings.HasPrefix(s, "did you mean") {
		hint = s + " " + hint
	}
	return hint
}
