// Package proxy owns the forwarding handler, the terminal handler of a
// route that sends the request to an upstream pool and streams the response
// back: building the outbound request (target URL, Host, forwarding fields,
// request ID), streaming bodies both ways (SSE flushed per event, upgrades
// as a bidirectional copy, 1xx and trailers passed on), the per-route
// upstream timeouts, and turning failures into Gatehouse's own error
// responses (mapping in internal/protocol).
//
// This is the net/http path, built on httputil.ReverseProxy with Rewrite;
// the own HTTP/1.1 engine (internal/engine) applies the same protocol rules
// from internal/protocol. Requests without a body or with a small one to
// plain HTTP/1.1 upstreams are sent by the engine's client when
// Options.Direct is set (the runtime sets it; docs/architecture.md says
// when), the rest by the pool's http.Transport.
package proxy
