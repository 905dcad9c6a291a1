package route

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// Explanation is what `gatehouse explain` prints: how the router ranks its
// routes and how each fares against one request. It is plain data.
type Explanation struct {
	// Route is the index of the route Match would return, or -1.
	Route int
	// Name is that route's name ("" when none matched).
	Name string
	// Lines has one line per host×path alternative, in precedence order
	// (the order of Router.Order).
	Lines []ExplainLine
}

// ExplainLine is one alternative of one route, at its rank.
type ExplainLine struct {
	Rank  int // 1-based position in precedence order
	Route int // index into the routes given to Compile
	Name  string
	// Host and Path are this alternative's patterns as written in the
	// config, "" when the route has no host (path) condition.
	Host, Path string
	// Why says why the alternative ranks here, e.g.
	// "exact host api.example.com, prefix /v1/* (len 3), 1 condition".
	Why string
	// Matched reports whether the request satisfies this alternative.
	Matched bool
	// Selected marks the one line whose route handles the request: the
	// first matched line.
	Selected bool
	// Reason says why the line did not match ("method POST not in [GET]"),
	// or, for a matched line below the selected one, which rank won; ""
	// on the selected line.
	Reason string
}

// Explain evaluates req against every alternative in precedence order. Its
// verdict is the same as Match's; it allocates freely and is meant for the
// CLI and the admin API, not the request path.
func (r *Router) Explain(req *Request) Explanation {
	host := hostKey(req.Host)
	ex := Explanation{Route: -1, Lines: make([]ExplainLine, len(r.entries))}
	winner := 0
	for i := range r.entries {
		e := &r.entries[i]
		l := ExplainLine{Rank: i + 1, Route: e.route, Name: e.name, Host: e.host.raw, Path: e.path.raw, Why: e.why()}
		switch {
		case !e.host.match(host):
			l.Reason = e.host.whyNot(host)
		case !e.path.match(req.Path):
			l.Reason = e.path.whyNot(req.Path)
		default:
			l.Reason = e.conds.whyNot(req)
			l.Matched = l.Reason == ""
		}
		if l.Matched {
			if ex.Route < 0 {
				ex.Route, ex.Name, winner = e.route, e.name, i+1
				l.Selected = true
			} else {
				l.Reason = fmt.Sprintf("matches, but rank %d wins", winner)
			}
		}
		ex.Lines[i] = l
	}
	return ex
}

// String renders the explanation as the CLI prints it: one row per line,
// the selected one marked with "→", then the verdict.
func (ex Explanation) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tRANK\tROUTE\tRANKED BY\tRESULT")
	for _, l := range ex.Lines {
		mark, result := "", "✗ "+l.Reason
		switch {
		case l.Selected:
			mark, result = "→", "✓ selected"
		case l.Matched:
			result = "✓ " + l.Reason
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", mark, l.Rank, l.Name, l.Why, result)
	}
	_ = tw.Flush() // a strings.Builder does not fail
	if ex.Route < 0 {
		b.WriteString("no route matches (404)\n")
	} else {
		fmt.Fprintf(&b, "route %q (routes[%d]) handles the request\n", ex.Name, ex.Route)
	}
	return b.String()
}

// Describe returns the human description of a route's match, e.g.
// `host api.example.com | *.example.com; path /v1/*; methods [GET]; header
// X-Env=prod; priority 10`, or "any request" for a catch-all. It panics on
// an index out of range, like a slice.
func (r *Router) Describe(index int) string {
	_ = r.names[index] // bounds check with the documented panic
	var alts []*entry
	for i := range r.entries {
		if r.entries[i].route == index {
			alts = append(alts, &r.entries[i])
		}
	}
	// Back to config order: alternatives are numbered host-major.
	slices.SortFunc(alts, func(a, b *entry) int { return cmp.Compare(a.alt, b.alt) })
	var hosts, paths []string
	for _, e := range alts {
		hosts = appendUnique(hosts, e.host.raw)
		paths = appendUnique(paths, e.path.raw)
	}
	c, prio := alts[0].conds, alts[0].prio
	var parts []string
	if s := strings.Join(hosts, " | "); s != "" && s != "*" {
		parts = append(parts, "host "+s)
	}
	if s := strings.Join(paths, " | "); s != "" && s != "*" {
		parts = append(parts, "path "+s)
	}
	parts = append(parts, c.parts()...)
	if prio != 0 {
		parts = append(parts, fmt.Sprintf("priority %d", prio))
	}
	if len(parts) == 0 {
		return "any request"
	}
	return strings.Join(parts, "; ")
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
