package config

import (
	"net"
	"net/netip"
	"strings"
)

// admin checks the admin API block: an address that parses, and a token
// whenever the address is reachable from other machines (the API can
// reload the configuration and purge caches).
func (v *validator) admin() {
	a := v.c.Admin
	if a == nil {
		return
	}
	if a.Address == "" {
		v.add("$.admin", `write address: "127.0.0.1:9901"`, "admin.address is required")
		return
	}
	host, port, err := net.SplitHostPort(a.Address)
	if err != nil || port == "" {
		v.add("$.admin.address", `write host:port, e.g. "127.0.0.1:9901" or "[::1]:9901"`, "admin.address %q is not host:port", a.Address)
		return
	}
	if a.Token == "" && !loopbackHost(host) {
		v.add("$.admin.address", `bind it to 127.0.0.1 or set admin.token: "${ADMIN_TOKEN}"`,
			"admin.address %q is reachable from other machines and admin.token is not set", a.Address)
	}
}

// loopbackHost reports whether host (from host:port) only accepts
// connections from this machine: "localhost" or a loopback IP. An empty
// host means every interface.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
