package cache

import (
	"net/url"
	"strings"
)

// StateKeyPrefix is the start of the state key under which the middleware
// keeps the store of the cache named name across reloads (the full key adds
// "size=BYTES"). The runtime's state lookup with this prefix finds every
// live store of that name, for the admin API.
func StateKeyPrefix(name string) string { return StateKeyRoot + name + "|" }

// StateKeyRoot starts the state key of every cache store.
const StateKeyRoot = "cache|name="

// StateKeyName returns the cache name in a state key made with
// StateKeyPrefix, and false for any other key.
func StateKeyName(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, StateKeyRoot)
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "|")
	return name, ok
}

// Purge performs m on the live store held in v — a value the runtime's
// state keeps under a StateKeyPrefix key — and, when publish is set and
// the cache has a cluster, sends m to every instance (this one included:
// applying a purge twice is harmless). It returns how many entries were
// removed here and false when v is not a cache store.
func Purge(v any, m PurgeMessage, publish bool) (int, bool) {
	ss, ok := v.(*sharedStore)
	if !ok {
		return 0, false
	}
	n := ss.store.Apply(m)
	if publish && ss.publish != nil {
		ss.publish(m)
	}
	return n, true
}

// URLKey is the primary key of an absolute URL as the cache stores it:
// lower-cased host (with its port, as the request's Host carried it),
// escaped path and query. The query is taken as written: a cache with
// key.ignore_query or key.sort_query stores the normalised query, so purge
// such URLs without the ignored parameters, in sorted order, or by prefix.
func URLKey(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	k := strings.ToLower(u.Host) + p
	if u.RawQuery != "" {
		k += "?" + u.RawQuery
	}
	return k
}
