// Package action owns the terminal handlers a route may end in instead of
// the proxy: a redirect, a fixed response, and static files from a
// directory. Each is built once from its config (validated, templates
// compiled) and is safe for concurrent use. See docs/middleware.md.
package action
