// Package reqlimit owns the "request_limits" middleware: per-route bounds
// on the request head, tighter than the server-wide ones
// (server.max_header_bytes, server.max_uri_bytes): the number of header
// field lines, their total size, the number of query parameters and the
// length of the request target. A request past a bound is refused before
// anything reaches the backend. Body size is body_limit's job.
package reqlimit
