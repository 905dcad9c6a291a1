package runtime

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
)

// Explain describes, without sending anything, how rt would handle a
// request: the routes in precedence order and how each fares, then the
// chosen route's chain and terminal action with its upstream's policy and
// targets. The path is normalised first, as for a real request.
func (rt *Runtime) Explain(method string, u *url.URL, h http.Header) string {
	cu := *u
	protocol.CleanRequestPath(&cu)
	ex := rt.router.Explain(&route.Request{Method: method, Host: cu.Host, Path: cu.Path, RawQuery: cu.RawQuery, Header: h})
	var b strings.Builder
	fmt.Fprintf(&b, "request: %s %s\n", method, cu.String())
	if cu.Path != u.Path {
		fmt.Fprintf(&b, "path normalised: %s -> %s\n", u.Path, cu.Path)
	}
	b.WriteString("\nroutes in precedence order:\n")
	b.WriteString(ex.String())
	if ex.Route < 0 {
		return b.String()
	}
	cr := &rt.routes[ex.Route]
	fmt.Fprintf(&b, "\nroute:    %s (%s)\n", cr.name, rt.router.Describe(ex.Route))
	if (method == http.MethodConnect && !cr.allowsConnect) || (method == http.MethodTrace && !cr.allowsTrace) {
		fmt.Fprintf(&b, "refused:  %s answers 405 unless the route lists it in match.methods\n", method)
		return b.String()
	}
	chain := append(append([]string(nil), cr.chain...), cr.terminal)
	fmt.Fprintf(&b, "chain:    %s\n", strings.Join(chain, " -> "))
	rc := &rt.cfg.Routes[ex.Route]
	if rc.Upstream != "" {
		if p := rt.pools[rc.Upstream]; p != nil {
			targets := make([]string, 0, len(p.Targets()))
			for _, t := range p.Targets() {
				targets = append(targets, t.String())
			}
			fmt.Fprintf(&b, "upstream: %s, policy %s, targets [%s]\n", p.Name(), p.PolicyName(), strings.Join(targets, ", "))
		}
		t := rc.Timeouts
		fmt.Fprintf(&b, "timeouts: connect %s, response_header %s, idle %s, total %s\n",
			t.Connect.D(), t.ResponseHeader.D(), t.Idle.D(), orNone(t.Total.D().String(), t.Total == 0))
	}
	return b.String()
}

func orNone(s string, none bool) string {
	if none {
		return "none"
	}
	return s
}
