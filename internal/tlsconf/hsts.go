package tlsconf

import (
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// DefaultHSTSMaxAge is the max-age HSTSValue uses when none is configured:
// one year, the minimum the browsers' preload lists accept.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// HSTSValue renders the Strict-Transport-Security header value for cfg
// (RFC 6797 section 6.1): "max-age=SECONDS" plus "; includeSubDomains" and
// "; preload" when set. Nil cfg returns "" (no header). A zero MaxAge means
// DefaultHSTSMaxAge; a negative one is treated as 0, which tells browsers to
// forget the policy (section 6.1.1).
func HSTSValue(cfg *config.HSTS) string {
	if cfg == nil {
		return ""
	}
	age := cfg.MaxAge.D()
	if age == 0 {
		age = DefaultHSTSMaxAge
	}
	v := "max-age=" + strconv.FormatInt(int64(max(age, 0)/time.Second), 10)
	if cfg.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if cfg.Preload {
		v += "; preload"
	}
	return v
}
