// Package upstream owns the backends Gatehouse forwards to: targets (one
// backend address each), pools (a named group of targets with one shared
// connection pool), and the balancing policies that pick a target per
// request. Later issues add active and passive health, circuit breaking and
// upstream TLS here.
//
// A Pool is built from plain config data and is safe for concurrent use. The
// runtime keeps a Pool across reloads while its Identity is unchanged, so
// pooled connections and counters survive; it calls Close once the last
// runtime using the pool has drained.
package upstream
