package route

import (
	"cmp"
	"fmt"
	"strings"
)

// entry is one host×path alternative of a route: a route with hosts [a, b]
// and paths [x, y] becomes four entries, each ranked on its own, so that its
// exact host competes as an exact host and its wildcard as a wildcard. The
// router keeps entries sorted by precedence; an entry's position is its rank.
type entry struct {
	route int // index into the routes given to Compile
	alt   int // alternative number within the route, in host-major order
	name  string
	prio  int
	host  hostPattern
	path  pathPattern
	conds *conds // shared by the route's entries
}

// compareEntries is the precedence order: negative when a ranks before
// (wins over) b. The rules, in order (documented in doc.go and
// docs/routing.md, printed by explain):
//
//  1. explicit priority, higher first (routes without one have 0);
//  2. host: exact, then wildcard (longer suffix first), then none;
//  3. path: exact, then prefix (longer prefix first), then regex, then none;
//  4. more conditions (methods, each header, each query parameter) first;
//  5. config order (then the alternative's order within its route).
//
// Rule 5 is what orders regexes among themselves (first in the file wins, as
// nginx does) unless rule 4 separates them.
func compareEntries(a, b *entry) int {
	if c := cmp.Compare(b.prio, a.prio); c != 0 {
		return c
	}
	if c := cmp.Compare(a.host.kind, b.host.kind); c != 0 {
		return c
	}
	if a.host.kind == hostWildcard {
		if c := cmp.Compare(len(b.host.value), len(a.host.value)); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.path.kind, b.path.kind); c != 0 {
		return c
	}
	if a.path.kind == pathPrefix {
		if c := cmp.Compare(len(b.path.value), len(a.path.value)); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(b.conds.count(), a.conds.count()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.route, b.route); c != 0 {
		return c
	}
	return cmp.Compare(a.alt, b.alt)
}

// why says why the entry ranks where it does, e.g.
// "priority 10, exact host api.example.com, prefix /v1/* (len 3), 1 condition".
func (e *entry) why() string {
	var b strings.Builder
	if e.prio != 0 {
		fmt.Fprintf(&b, "priority %d, ", e.prio)
	}
	b.WriteString(e.host.describe())
	b.WriteString(", ")
	b.WriteString(e.path.describe())
	switch n := e.conds.count(); n {
	case 0:
	case 1:
		b.WriteString(", 1 condition")
	default:
		fmt.Fprintf(&b, ", %d conditions", n)
	}
	return b.String()
}
