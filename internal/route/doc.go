// Package route owns request routing: the matchers (host, path, method,
// header, query), the precedence order, the compiled Router that picks a
// route for a request, the Explanation that `gatehouse explain` prints, and
// the shadowing warnings that `gatehouse validate` prints.
//
// It knows nothing of middleware, upstreams or HTTP engines: it maps a
// Request (a small view both engines can fill) to an index into the
// []config.Route it was compiled from. A Router is immutable and safe for
// concurrent use; a reload compiles a new one.
//
// # Patterns
//
//   - host: exact ("api.example.com"), wildcard ("*.example.com": one or
//     more labels before the suffix, never the bare suffix), or "*"/absent
//     (any). Case-insensitive; the request's port and one trailing dot are
//     ignored; IPv6 literals are written "[::1]".
//   - path: exact ("/health"), prefix ("/v1/*": "/v1", "/v1/" and "/v1/..."
//     but not "/v1x"), regex ("~^/items/[0-9]+$", Go syntax, unanchored
//     unless anchored), or "*"/absent (any). Case-sensitive.
//   - methods: a list; the request method must be one of them (exactly:
//     GET does not imply HEAD).
//   - headers and query: name → value, where "*" means present, "~re" a
//     regex and anything else an exact value. Header values are the first
//     value of the field, and an empty value counts as absent; query names
//     and values are compared decoded, any occurrence may match.
//
// A route with several hosts or paths is expanded into one alternative per
// host×path pair, and each alternative is ranked on its own.
//
// # Precedence
//
// Alternatives are ordered, most specific first (as nginx does):
//
//  1. explicit priority, higher first (absent = 0; negative sorts last);
//  2. host: exact, then wildcard (longer suffix first), then none;
//  3. path: exact, then prefix (longer prefix first), then regex, then none;
//  4. more conditions first (a method list counts one, each header and each
//     query parameter one);
//  5. config order.
//
// Regexes of equal rank under rules 1–4 are thus tried in config order. The
// request goes to the route of the first alternative that matches; Order and
// Explain list alternatives in exactly this order.
//
// # Performance
//
// Match indexes alternatives by exact host (a map), by wildcard suffix (one
// map lookup per dot in the request host), then within each host by exact
// path and by prefix (one lookup per '/' in the path), and scans only the
// regex and pathless alternatives in rank order, stopping at the best match
// found so far. It allocates nothing, except a lower-cased copy of a Host
// that contains upper-case letters and a decoded copy of an escaped query
// value tested by a regex.
package route
