// Package waf owns the `waf` middleware: a web application firewall built on
// Coraza (github.com/corazawaf/coraza/v3) with the OWASP Core Rule Set
// embedded in the binary (github.com/corazawaf/coraza-coreruleset/v4), so
// nothing is read from disk or fetched at run time.
//
// The package turns its typed settings into SecLang directives
// (directives.go), builds one Coraza engine per distinct configuration and
// shares it across routes and reloads (engine.go), inspects each request's
// line, headers and a bounded prefix of its body before anything reaches
// the backend (waf.go, body.go), optionally inspects a bounded prefix of
// response bodies (response.go), and logs matched rules with the request ID
// (log.go). Streams (SSE) and upgrades (WebSocket) are never buffered.
package waf
