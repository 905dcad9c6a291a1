// Package rewrite owns the "rewrite" middleware: changing the request path
// before the rest of the chain sees it (strip a prefix, a regex
// replacement, add a prefix). It works on the escaped path, keeps URL.Path
// and URL.RawPath consistent and never produces dot segments. See
// docs/middleware.md.
package rewrite
