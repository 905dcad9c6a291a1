// Package all links every middleware into the binary: importing it (for its
// side effects) registers each one with internal/middleware. The runtime
// and the CLI import it; a new middleware package adds its line here.
package all

import (
	_ "github.com/gatehouse-proxy/gatehouse/internal/cache"                 // cache
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/auth"       // auth
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/bodylimit"  // body_limit, body-limit
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/clientcert" // client_cert
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/compress"   // compress
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/cors"       // cors
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/headers"    // headers
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/hide"       // hide
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/ip"         // ip
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/ratelimit"  // ratelimit, rate_limit, concurrency
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/reqlimit"   // request_limits, request-limits
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/rewrite"    // rewrite
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/transform"  // transform
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/waf"        // waf
)
