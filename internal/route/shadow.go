package route

import (
	"fmt"
	"slices"
	"strings"
)

// Warning reports a route that can never match: for each of its host×path
// alternatives, some alternative of another route ranks before it and
// matches every request it would match. `gatehouse validate` prints Msg.
type Warning struct {
	// Route is the index of the route that can never match.
	Route int
	// By lists the indexes of the routes that win instead, ascending.
	By []int
	// Msg is the human-readable warning.
	Msg string
}

// String returns Msg.
func (w Warning) String() string { return w.Msg }

// shadowWarnings finds routes that can never match. The check is sound and
// conservative: it warns only when one earlier alternative covers a later
// one completely (covers() in host.go, path.go, cond.go say "no" when
// unsure), so a route shadowed only by a union of several routes, or by a
// regex equivalent to its own pattern, is not reported. An alternative
// covered by another alternative of the same route is harmless and is not
// counted either way. Cost is quadratic in the number of alternatives, paid
// once per compile.
func shadowWarnings(entries []entry, names []string) []Warning {
	byRoute := make([][]int, len(names)) // route → ranks of its entries
	for rank := range entries {
		byRoute[entries[rank].route] = append(byRoute[entries[rank].route], rank)
	}
	var out []Warning
	for route, ranks := range byRoute {
		var by []int
		shadowed := len(ranks) > 0
		for _, rank := range ranks {
			winner := coveringEntry(entries, rank)
			if winner < 0 {
				shadowed = false
				break
			}
			if !slices.Contains(by, winner) {
				by = append(by, winner)
			}
		}
		if !shadowed {
			continue
		}
		slices.Sort(by)
		out = append(out, Warning{Route: route, By: by, Msg: shadowMsg(entries, names, route, by)})
	}
	return out
}

// coveringEntry returns the route of the first entry ranked before rank,
// belonging to another route, that matches every request entries[rank]
// matches; -1 if there is none.
func coveringEntry(entries []entry, rank int) int {
	e := &entries[rank]
	for i := 0; i < rank; i++ {
		f := &entries[i]
		if f.route != e.route && f.host.covers(&e.host) && f.path.covers(&e.path) && f.conds.covers(e.conds) {
			return f.route
		}
	}
	return -1
}

func shadowMsg(entries []entry, names []string, route int, by []int) string {
	quoted := make([]string, len(by))
	for i, b := range by {
		quoted[i] = fmt.Sprintf("%q (routes[%d])", names[b], b)
	}
	hint := "make it more specific, or give it a higher priority"
	for _, b := range by {
		if prioOf(entries, b) > prioOf(entries, route) {
			hint = "the winner's priority puts it first; lower that priority or raise this route's"
			break
		}
	}
	return fmt.Sprintf("route %q can never match: %s ranks before it and matches every request it would (hint: %s)",
		names[route], strings.Join(quoted, " and "), hint)
}

func prioOf(entries []entry, route int) int {
	for i := range entries {
		if entries[i].route == route {
			return entries[i].prio
		}
	}
	return 0
}
