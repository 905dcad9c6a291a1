// Package placeholder owns the template strings that configuration values may
// contain ("req-{request_id}", "{header.X-Api-Key}", "https://{host}{uri}"):
// compiling them once when the configuration is loaded, and rendering them
// per request with as few allocations as possible.
//
// It is shared by the middleware (headers) and the terminal actions
// (redirect, respond); the list of placeholders is in docs/middleware.md.
package placeholder
