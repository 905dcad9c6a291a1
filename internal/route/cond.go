package route

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// conds is the part of a route's match shared by all its host×path
// alternatives: methods, headers and query parameters. All must hold.
type conds struct {
	methods []string // empty: any method
	headers []headerCond
	query   []queryCond
}

// parseConds compiles a route's methods, headers and query. Map entries are
// sorted by name so that explain output and evaluation order are stable.
func parseConds(m *config.Match) (*conds, []*CompileError) {
	c := &conds{}
	var errs []*CompileError
	for _, meth := range m.Methods {
		// Methods are case-sensitive tokens (RFC 9110 §9.1); the config
		// spells them upper-case and so do clients.
		if meth == "" || !validToken(meth) {
			errs = append(errs, &CompileError{Field: "match.methods", Value: meth,
				Err: fmt.Errorf("%w: method is not a token (RFC 9110 §9.1)", ErrCondition)})
			continue
		}
		if !slices.Contains(c.methods, meth) {
			c.methods = append(c.methods, meth)
		}
	}
	for _, name := range sortedKeys(m.Headers) {
		h, err := parseHeader(name, m.Headers[name])
		if err != nil {
			errs = append(errs, &CompileError{Field: "match.headers", Value: name, Err: err})
			continue
		}
		c.headers = append(c.headers, h)
	}
	for _, name := range sortedKeys(m.Query) {
		q, err := parseQuery(name, m.Query[name])
		if err != nil {
			errs = append(errs, &CompileError{Field: "match.query", Value: name, Err: err})
			continue
		}
		c.query = append(c.query, q)
	}
	return c, errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// count is the number of conditions, used by precedence: a method list
// counts one, each header and each query parameter one.
func (c *conds) count() int {
	n := len(c.headers) + len(c.query)
	if len(c.methods) > 0 {
		n++
	}
	return n
}

// match reports whether all conditions hold. It allocates nothing except
// what a regex on an escaped query value needs (query.go).
func (c *conds) match(req *Request) bool {
	if len(c.methods) > 0 && !c.methodOK(req.Method) {
		return false
	}
	for i := range c.headers {
		if !c.headers[i].match(req.Header) {
			return false
		}
	}
	for i := range c.query {
		if !c.query[i].match(req.RawQuery) {
			return false
		}
	}
	return true
}

func (c *conds) methodOK(m string) bool {
	for _, x := range c.methods {
		if x == m {
			return true
		}
	}
	return false
}

// whyNot names the first failing condition ("" when all hold).
func (c *conds) whyNot(req *Request) string {
	if len(c.methods) > 0 && !c.methodOK(req.Method) {
		return fmt.Sprintf("method %s not in [%s]", req.Method, strings.Join(c.methods, " "))
	}
	for i := range c.headers {
		if !c.headers[i].match(req.Header) {
			return c.headers[i].whyNot(req.Header)
		}
	}
	for i := range c.query {
		if !c.query[i].match(req.RawQuery) {
			return c.query[i].whyNot(req.RawQuery)
		}
	}
	return ""
}

// covers reports whether every request satisfying d also satisfies c (so c
// is no narrower than d); false when unsure.
func (c *conds) covers(d *conds) bool {
	if len(c.methods) > 0 {
		if len(d.methods) == 0 {
			return false
		}
		for _, m := range d.methods {
			if !c.methodOK(m) {
				return false
			}
		}
	}
	for i := range c.headers {
		if !slices.ContainsFunc(d.headers, func(h headerCond) bool {
			return h.name == c.headers[i].name && h.implies(&c.headers[i].valueMatcher)
		}) {
			return false
		}
	}
	for i := range c.query {
		if !slices.ContainsFunc(d.query, func(q queryCond) bool {
			return q.name == c.query[i].name && q.implies(&c.query[i].valueMatcher)
		}) {
			return false
		}
	}
	return true
}

// parts lists the conditions, e.g. "methods [GET HEAD]", "header
// X-Env=prod", "query debug present".
func (c *conds) parts() []string {
	var parts []string
	if len(c.methods) > 0 {
		parts = append(parts, "methods ["+strings.Join(c.methods, " ")+"]")
	}
	for i := range c.headers {
		parts = append(parts, "header "+c.headers[i].describe(c.headers[i].name))
	}
	for i := range c.query {
		parts = append(parts, "query "+c.query[i].describe(c.query[i].name))
	}
	return parts
}
