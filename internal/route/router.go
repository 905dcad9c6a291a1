package route

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Router is a compiled, immutable set of routes. It is safe for concurrent
// use by any number of goroutines; a reload compiles a new one.
type Router struct {
	entries  []entry // sorted by precedence: index = rank
	nroutes  int
	names    []string
	exact    map[string]*bucket // exact host key → entries with that host
	wildcard map[string]*bucket // ".example.com" → entries with "*.example.com"
	anyHost  *bucket            // entries without a host condition
	warnings []Warning
}

// bucket indexes the entries that share one host pattern by their path.
// Every list holds entry ranks in ascending order, so a scan can stop at the
// first match and at the best rank found so far.
type bucket struct {
	first  int32              // lowest rank in the bucket
	exact  map[string][]int32 // exact path → ranks
	prefix map[string][]int32 // prefix without "/*" → ranks
	rest   []int32            // regex and any-path entries
}

// Compile builds a Router from the routes of a (validated) configuration.
// It never panics: every invalid pattern is reported as a *CompileError
// naming the route index and field; several are joined with errors.Join
// (walk them with errors.As or Unwrap() []error). The routes slice is only
// read; indexes returned by Match, Order and Explain refer to it.
func Compile(routes []config.Route) (*Router, error) {
	r := &Router{
		nroutes:  len(routes),
		names:    make([]string, len(routes)),
		exact:    map[string]*bucket{},
		wildcard: map[string]*bucket{},
	}
	var errs []error
	for i := range routes {
		rt := &routes[i]
		name := rt.Name
		if name == "" {
			name = fmt.Sprintf("route#%d", i+1) // config's default name
		}
		r.names[i] = name
		ents, cerrs := expand(i, name, rt)
		for _, e := range cerrs {
			e.Route, e.Name = i, name
			errs = append(errs, e)
		}
		r.entries = append(r.entries, ents...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(r.entries) > 1<<31-1 {
		return nil, fmt.Errorf("route: %d match alternatives is too many", len(r.entries))
	}
	slices.SortFunc(r.entries, func(a, b entry) int { return compareEntries(&a, &b) })
	for rank := range r.entries {
		r.index(int32(rank))
	}
	r.warnings = shadowWarnings(r.entries, r.names)
	return r, nil
}

// expand turns one route into its host×path entries.
func expand(i int, name string, rt *config.Route) ([]entry, []*CompileError) {
	var errs []*CompileError
	hosts := []hostPattern{{kind: hostAny}}
	if len(rt.Match.Host) > 0 {
		hosts = hosts[:0]
		for _, h := range rt.Match.Host {
			p, err := parseHost(h)
			if err != nil {
				errs = append(errs, &CompileError{Field: "match.host", Value: h, Err: err})
				continue
			}
			hosts = append(hosts, p)
		}
	}
	paths := []pathPattern{{kind: pathAny}}
	if len(rt.Match.Path) > 0 {
		paths = paths[:0]
		for _, s := range rt.Match.Path {
			p, err := parsePath(s)
			if err != nil {
				errs = append(errs, &CompileError{Field: "match.path", Value: s, Err: err})
				continue
			}
			paths = append(paths, p)
		}
	}
	c, cerrs := parseConds(&rt.Match)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	ents := make([]entry, 0, len(hosts)*len(paths))
	for _, h := range hosts {
		for _, p := range paths {
			ents = append(ents, entry{route: i, alt: len(ents), name: name, prio: rt.Priority, host: h, path: p, conds: c})
		}
	}
	return ents, nil
}

// index files the entry of the given rank under its host and path. Ranks
// arrive in ascending order, so every list stays sorted.
func (r *Router) index(rank int32) {
	e := &r.entries[rank]
	var b *bucket
	switch e.host.kind {
	case hostExact:
		b = getBucket(r.exact, e.host.value, rank)
	case hostWildcard:
		b = getBucket(r.wildcard, e.host.value, rank)
	default:
		if r.anyHost == nil {
			r.anyHost = &bucket{first: rank}
		}
		b = r.anyHost
	}
	switch e.path.kind {
	case pathExact:
		if b.exact == nil {
			b.exact = map[string][]int32{}
		}
		b.exact[e.path.value] = append(b.exact[e.path.value], rank)
	case pathPrefix:
		if b.prefix == nil {
			b.prefix = map[string][]int32{}
		}
		b.prefix[e.path.value] = append(b.prefix[e.path.value], rank)
	default:
		b.rest = append(b.rest, rank)
	}
}

func getBucket(m map[string]*bucket, key string, rank int32) *bucket {
	b := m[key]
	if b == nil {
		b = &bucket{first: rank}
		m[key] = b
	}
	return b
}

// Match returns the index (into the routes given to Compile) of the route
// that handles req: the first in precedence order whose match holds. ok is
// false when no route matches (the caller answers 404).
//
// Match does not allocate, except to lower-case a Host with upper-case
// letters and to decode an escaped query value for a regex condition.
func (r *Router) Match(req *Request) (index int, ok bool) {
	host := hostKey(req.Host)
	best := int32(len(r.entries))
	if b := r.exact[host]; b != nil {
		best = r.search(b, req, best)
	}
	if len(r.wildcard) > 0 {
		// Try every suffix that starts at a dot and leaves at least one
		// character before it: "a.b.example.com" → ".b.example.com",
		// ".example.com", ".com".
		for i := 1; i < len(host); i++ {
			if host[i] == '.' {
				if b := r.wildcard[host[i:]]; b != nil {
					best = r.search(b, req, best)
				}
			}
		}
	}
	if r.anyHost != nil {
		best = r.search(r.anyHost, req, best)
	}
	if int(best) == len(r.entries) {
		return -1, false
	}
	return r.entries[best].route, true
}

// search returns the best rank below best among b's entries that match req
// (host already known to match), or best.
func (r *Router) search(b *bucket, req *Request, best int32) int32 {
	if b.first >= best {
		// Everything here ranks below the match already found: with
		// priorities unused, an exact-host match skips the rest this way.
		return best
	}
	path := req.Path
	if b.exact != nil {
		best = r.scan(b.exact[path], req, best, false)
	}
	if b.prefix != nil {
		// The path itself and every ancestor ending before a '/':
		// "/v1/a/b" → "/v1/a/b", "/v1/a", "/v1", "" (the last is "/*").
		best = r.scan(b.prefix[path], req, best, false)
		for i := len(path) - 1; i >= 0; i-- {
			if path[i] == '/' {
				best = r.scan(b.prefix[path[:i]], req, best, false)
			}
		}
	}
	return r.scan(b.rest, req, best, true)
}

// scan returns the first rank in list below best whose entry matches; the
// path is checked only when checkPath (the index guaranteed it otherwise).
func (r *Router) scan(list []int32, req *Request, best int32, checkPath bool) int32 {
	for _, rank := range list {
		if rank >= best {
			break
		}
		e := &r.entries[rank]
		if checkPath && !e.path.match(req.Path) {
			continue
		}
		if e.conds.match(req) {
			return rank
		}
	}
	return best
}

// Order returns route indexes in precedence order, one element per
// host×path alternative (so a route with two hosts appears twice): exactly
// the order of Explain's lines. The caller owns the returned slice.
func (r *Router) Order() []int {
	out := make([]int, len(r.entries))
	for i := range r.entries {
		out[i] = r.entries[i].route
	}
	return out
}

// Len returns the number of routes given to Compile.
func (r *Router) Len() int { return r.nroutes }

// Name returns the route's name (its configured name, or "route#N" with N
// its 1-based position). It panics on an index out of range, like a slice.
func (r *Router) Name(index int) string { return r.names[index] }

// Warnings returns the routes that can never match, in route order. The
// caller owns the returned slice.
func (r *Router) Warnings() []Warning { return slices.Clone(r.warnings) }
