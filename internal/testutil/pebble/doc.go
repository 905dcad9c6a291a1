// Package pebble starts a real pebble ACME test server (Debian package
// "pebble", RFC 8555) for tests: on free 127.0.0.1 ports, with a generated
// TLS certificate for its own HTTPS (the Debian package ships none), an
// in-process DNS server that resolves every name to 127.0.0.1 (so the
// validation authority reaches the test's challenge servers), and the
// environment set for fast, deterministic runs. It is stopped by PID when
// the test ends. Test support only; production code never imports it.
package pebble
