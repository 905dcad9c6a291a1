package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

const regexHint = "regexes use RE2 syntax (no look-around or back-references): https://pkg.go.dev/regexp/syntax"

func (v *validator) routes() {
	names := map[string]int{}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		path := IndexPath("$.routes", i)
		if j, dup := names[r.Name]; dup {
			v.add(path+".name", "give each route its own name",
				"route name %q is already used by route #%d", r.Name, j+1)
		} else {
			names[r.Name] = i
		}
		v.match(path+".match", r.Name, r.Match)
		v.action(path, r)
		v.timeouts(path+".timeouts", r.Timeouts)
		for j, m := range r.Middleware {
			if m.Name == "" {
				v.add(IndexPath(path+".middleware", j), `write "- name: { settings }"`, "route %q: middleware #%d has no name", r.Name, j+1)
			}
		}
	}
}

// action checks that the route does exactly one thing, and that thing.
func (v *validator) action(path string, r *Route) {
	var set []string
	if r.Upstream != "" {
		set = append(set, "upstream")
	}
	if r.Redirect != nil {
		set = append(set, "redirect")
	}
	if r.Respond != nil {
		set = append(set, "respond")
	}
	if r.Static != nil {
		set = append(set, "static")
	}
	switch len(set) {
	case 0:
		v.add(path, "add one of upstream: NAME, redirect: { to: URL }, respond: { status: 200 } or static: { root: DIR }",
			"route %q does nothing: it has no upstream, redirect, respond or static", r.Name)
	case 1:
	default:
		v.add(path+"."+set[1], fmt.Sprintf("keep only one of %s; for more, write one route each, with different matches", strings.Join(set, ", ")),
			"route %q has %d actions (%s); a route has exactly one", r.Name, len(set), strings.Join(set, ", "))
	}
	if r.Upstream != "" {
		if _, ok := v.c.Upstreams[r.Upstream]; !ok {
			v.add(path+".upstream", v.c.upstreamHint(r.Upstream), "route %q uses upstream %q, which is not defined", r.Name, r.Upstream)
			v.errs[len(v.errs)-1].dependsOn = ChildPath("$.upstreams", r.Upstream)
		}
	}
	if r.Retries != nil {
		if r.Upstream == "" {
			v.add(path+".retries", "retries apply to upstream routes only", "route %q has retries but no upstream", r.Name)
		}
		v.retries(path+".retries", *r.Retries)
		if r.Retries.BudgetPercent != nil || r.Retries.MinRetriesPerSecond != nil {
			v.add(path+".retries", "set budget_percent and min_retries_per_second on the upstream: the budget counts all its requests",
				"route %q: the retry budget is per upstream, not per route", r.Name)
		}
	}
	if rd := r.Redirect; rd != nil {
		if rd.To == "" {
			v.add(path+".redirect", `write redirect: { to: "https://{host}{uri}" }`, "route %q: redirect has no to", r.Name)
		}
		if !slices.Contains(RedirectStatuses, rd.Status) {
			v.add(path+".redirect.status", "use 301, 302, 303, 307 or 308 (307/308 keep the method and body)",
				"route %q: redirect status %d is not a redirect status", r.Name, rd.Status)
		}
	}
	if rs := r.Respond; rs != nil {
		if rs.Status < 100 || rs.Status > 599 {
			v.add(path+".respond.status", "use a status code from 100 to 599", "route %q: respond status %d is not an HTTP status", r.Name, rs.Status)
		}
		for _, h := range sortedKeys(rs.Headers) {
			if !protocol.IsToken(h) {
				v.add(ChildPath(path+".respond.headers", h), "", "route %q: %q is not a valid header name", r.Name, h)
			}
		}
	}
	if st := r.Static; st != nil {
		if st.Root == "" {
			v.add(path+".static", `write static: { root: /var/www/site }`, "route %q: static has no root directory", r.Name)
		}
		if st.StripPrefix != nil && *st.StripPrefix != "" && !strings.HasPrefix(*st.StripPrefix, "/") {
			v.add(path+".static.strip_prefix", fmt.Sprintf("did you mean %q?", "/"+*st.StripPrefix),
				"route %q: strip_prefix must start with \"/\"", r.Name)
		}
	}
}

func (v *validator) match(path, route string, m Match) {
	for i, h := range m.Host {
		if msg, hint := checkHost(h); msg != "" {
			v.add(IndexPath(path+".host", i), hint, "route %q: host %q %s", route, h, msg)
		}
	}
	for i, p := range m.Path {
		v.matchPath(IndexPath(path+".path", i), route, p)
	}
	for i, meth := range m.Methods {
		switch {
		case !protocol.IsToken(meth):
			v.add(IndexPath(path+".methods", i), `write methods such as GET, POST`, "route %q: %q is not an HTTP method", route, meth)
		case strings.ToUpper(meth) != meth:
			// RFC 9110 section 9.1: methods are case-sensitive, and the
			// standard ones are upper case.
			v.add(IndexPath(path+".methods", i), fmt.Sprintf("write %q: methods are case-sensitive", strings.ToUpper(meth)),
				"route %q: method %q is not upper case", route, meth)
		}
	}
	for _, name := range sortedKeys(m.Headers) {
		p := ChildPath(path+".headers", name)
		if !protocol.IsToken(name) {
			v.add(p, "", "route %q: %q is not a valid header name", route, name)
		}
		v.matchValue(p, route, m.Headers[name])
	}
	for _, name := range sortedKeys(m.Query) {
		p := ChildPath(path+".query", name)
		if name == "" {
			v.add(p, "", "route %q: empty query parameter name", route)
		}
		v.matchValue(p, route, m.Query[name])
	}
}

// checkHost validates a host match: "api.example.com", "*.example.com" or
// an IP address (IPv6 with or without brackets).
func checkHost(h string) (msg, hint string) {
	switch {
	case h == "":
		return "is empty", "leave host out to match any host"
	case h == "*":
		return "matches everything", "leave host out to match any host"
	case net.ParseIP(strings.Trim(h, "[]")) != nil:
		return "", ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if _, err := strconv.Atoi(h[i+1:]); err == nil {
			return "has a port", "host matching ignores the port; write the host alone"
		}
	}
	rest := strings.TrimPrefix(h, "*.")
	if strings.Contains(rest, "*") {
		return "has a \"*\" that is not a leading \"*.\"", `write a wildcard as "*.example.com"`
	}
	if !validHost(rest) {
		return "is not a valid host name", `write "api.example.com" or "*.example.com"`
	}
	return "", ""
}

// matchPath validates "/exact", "/prefix/*" or "~regex".
func (v *validator) matchPath(path, route, p string) {
	switch {
	case strings.HasPrefix(p, "~"):
		v.regex(path, route, p[1:])
	case p == "":
		v.add(path, "", "route %q: empty path", route)
	case !strings.HasPrefix(p, "/"):
		v.add(path, fmt.Sprintf(`did you mean "/%s"? (a regex starts with "~")`, p),
			"route %q: path %q does not start with \"/\"", route, p)
	case strings.Contains(strings.TrimSuffix(p, "/*"), "*"):
		v.add(path, `"*" may only end a prefix, as in "/v1/*"; for anything else use a regex such as "~^/v1/[^/]+/items$"`,
			"route %q: path %q has a \"*\" in the middle", route, p)
	}
}

// matchValue validates a header or query match value ("*", "~re", exact).
func (v *validator) matchValue(path, route, val string) {
	if strings.HasPrefix(val, "~") {
		v.regex(path, route, val[1:])
	}
}

// regex compiles re and reports a failure in words.
func (v *validator) regex(path, route, re string) {
	if re == "" {
		v.add(path, `write a regex after "~", e.g. "~^/items/[0-9]+$"`, "route %q: empty regex", route)
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		v.add(path, regexHint, "route %q: invalid regex %q: %s", route, re, regexError(err))
	}
}

// regexError turns a regexp error into "missing closing ) in `(a`".
func regexError(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		if se.Expr == "" {
			return string(se.Code)
		}
		return fmt.Sprintf("%s in %q", se.Code, se.Expr)
	}
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
