// Package cache is Gatehouse's shared HTTP cache (RFC 9111) and the `cache`
// middleware built on it.
//
// It owns: parsing Cache-Control (cachecontrol.go), the storing rules of
// RFC 9111 §3 (storable.go), freshness and age arithmetic of §4.2
// (freshness.go), cache keys and secondary keys for Vary and configured
// headers (key.go), validation and the 304 merge of §4.3 (validate.go),
// invalidation after unsafe methods (§4.4, invalidate.go), serving stored
// responses with Age, Cache-Status (RFC 9211), conditionals and ranges
// (serve.go), storing responses while they stream to the client
// (fill.go), coalescing of concurrent misses (flight.go), the bounded
// in-memory store with segmented-LRU admission (store.go), the optional
// on-disk store for large bodies (disk.go, fill_disk.go), POST body
// keys (post.go) and purging (purge.go). Redis fan-out of purges lives in
// internal/cluster (cache_purge.go).
//
// Every use of the clock goes through Options.Now, so freshness is
// deterministic in tests.
package cache
