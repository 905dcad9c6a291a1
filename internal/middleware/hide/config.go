package hide

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// DefaultHeaders are removed when the config does not replace the list.
// Each names backend software, its version or an internal host:
// web servers and frameworks (Server, X-Powered-By, X-AspNet-Version,
// X-AspNetMvc-Version, X-Runtime from Rails, X-Generator and X-Drupal-*
// from CMSs, X-Application-Context from Spring Boot), upstream caches and
// proxies (X-Varnish, X-Envoy-Upstream-Service-Time) and conventional
// internal-host headers (X-Backend-Server, X-Backend, X-Server,
// X-Upstream), and debug links (X-Debug-Token, X-Debug-Token-Link from
// Symfony). Via is not in the list: RFC 9110 section 7.6.3 gives it a
// role in loop detection and protocol capabilities; add it if wanted.
var DefaultHeaders = []string{
	"Server",
	"X-Powered-By",
	"X-AspNet-Version",
	"X-AspNetMvc-Version",
	"X-Runtime",
	"X-Generator",
	"X-Drupal-Cache",
	"X-Drupal-Dynamic-Cache",
	"X-Application-Context",
	"X-Varnish",
	"X-Envoy-Upstream-Service-Time",
	"X-Backend-Server",
	"X-Backend",
	"X-Server",
	"X-Upstream",
	"X-Debug-Token",
	"X-Debug-Token-Link",
}

// Config is the middleware's settings. `hide: {}` (or no settings)
// removes DefaultHeaders.
type Config struct {
	// Headers replaces the default list when set.
	Headers []string `yaml:"headers"`
	// Add extends the list (the default one, or Headers).
	Add []string `yaml:"add"`
	// ErrorPages replaces the body of every 5xx response from the rest of
	// the chain (the backend) with Gatehouse's error body, keeping the
	// status. Default false.
	ErrorPages bool `yaml:"error_pages"`
}

// compile returns the canonical names to remove, without duplicates.
func compile(cfg Config) ([]string, error) {
	list := cfg.Headers
	if list == nil {
		list = DefaultHeaders
	}
	var out []string
	for _, group := range []struct {
		field string
		names []string
	}{{"headers", list}, {"add", cfg.Add}} {
		for i, name := range group.names {
			if !placeholder.ValidFieldName(name) {
				return nil, fmt.Errorf("%s[%d]: %q is not a valid header name", group.field, i, name)
			}
			cn := http.CanonicalHeaderKey(name)
			if protocol.IsServerManaged(cn) {
				return nil, fmt.Errorf("%s[%d]: %s is a framing or hop-by-hop header and cannot be removed", group.field, i, cn)
			}
			if !slices.Contains(out, cn) {
				out = append(out, cn)
			}
		}
	}
	if len(out) == 0 && !cfg.ErrorPages {
		return nil, fmt.Errorf("nothing to do: the header list is empty and error_pages is off")
	}
	return out, nil
}
