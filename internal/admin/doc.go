// Package admin owns Gatehouse's admin API: an HTTP/JSON API on a listener
// of its own (never reachable through the routes) to reload the
// configuration, purge caches and report status (docs/admin.md).
//
// The API reads everything from the current runtime (runtime.Holder), so a
// reload changes what it reports and its token at once; the reload itself
// is the caller's (cmd/gatehouse), handed in as a function so that the API,
// SIGHUP and the file watcher share one code path.
package admin
