package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// located is an error together with the YAML path it concerns. The path lets
// Parse drop validation errors that merely follow from a decoding error in
// the same object (a misspelt key leaves a field empty, and "route has no
// upstream" would only repeat the first complaint).
type located struct {
	err  *Error
	path string
	// unknownKey marks an "unknown key" decoding error; suggestion is the
	// key it was probably meant to be ("" if none is close).
	unknownKey bool
	suggestion string
	// dependsOn is the path of what a validation error refers to (the
	// upstreams map, for a route's upstream name).
	dependsOn string
}

// errs collects located errors.
type errs []located

func (l *errs) add(pos Pos, path, hint, format string, args ...any) {
	*l = append(*l, located{err: Errorf(pos, hint, format, args...), path: path})
}

// sorted returns the errors as an ErrorList in file order; errors without a
// line keep the order they were found in, ahead of positioned ones.
func (l errs) sorted() ErrorList {
	if len(l) == 0 {
		return nil
	}
	out := make(ErrorList, len(l))
	for i, e := range l {
		out[i] = e.err
	}
	slices.SortStableFunc(out, func(a, b *Error) int {
		if c := cmp.Compare(a.Pos.Line, b.Pos.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Pos.Col, b.Pos.Col)
	})
	return out
}

// withoutConsequences drops from v the validation errors that are likely
// mere consequences of a decoding error in d:
//   - a bad value at path D leaves the field empty: errors at or below D,
//     and about D's object itself, go;
//   - an unknown key in object P means an intended key is missing: errors
//     about P itself ("route does nothing") go, and so do errors at or
//     referring to the key it was probably meant to be (a misspelt
//     "upstreams" would make every route's upstream "undefined").
func withoutConsequences(d, v errs) errs {
	var out errs
outer:
	for _, e := range v {
		for _, de := range d {
			if !de.unknownKey {
				// The field is left empty: errors about it, or about its
				// object lacking it ("route does nothing"), follow from this.
				if within(e.path, de.path) || e.path == parentPath(de.path) {
					continue outer
				}
				continue
			}
			parent := parentPath(de.path)
			if e.path == parent {
				continue outer
			}
			if de.suggestion != "" {
				meant := ChildPath(parent, de.suggestion)
				if within(e.path, meant) || (e.dependsOn != "" && within(e.dependsOn, meant)) {
					continue outer
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// within reports whether path is p itself or lies below it.
func within(path, p string) bool {
	if path == p || p == "$" {
		return true
	}
	return p != "" && strings.HasPrefix(path, p) && len(path) > len(p) && (path[len(p)] == '.' || path[len(p)] == '[')
}

// closest returns the valid name nearest to got when it is near enough to
// be a typo: at most a third of the word (and at least one edit) away.
func closest(got string, valid []string) string {
	best, bestD := "", 1<<30
	for _, v := range valid {
		if d := editDistance(strings.ToLower(got), strings.ToLower(v)); d < bestD {
			best, bestD = v, d
		}
	}
	if best != "" && bestD <= max(1, len(best)/3) {
		return best
	}
	return ""
}

// suggest returns a hint for an unknown name: the closest valid one when it
// is near enough to be a typo, else the list of valid names.
func suggest(got string, valid []string, what string) string {
	if best := closest(got, valid); best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(valid) == 0 {
		return ""
	}
	return what + ": " + strings.Join(valid, ", ")
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// quoteList renders names as `"a", "b"` for messages.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
