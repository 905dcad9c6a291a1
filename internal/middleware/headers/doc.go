// Package headers owns the "headers" middleware: setting, adding and
// removing request headers before the rest of the chain runs, and response
// headers when the response head is written. Values may contain
// placeholders (internal/placeholder). See docs/middleware.md.
package headers
