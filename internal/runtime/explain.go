package runtime

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
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
				targets = append(targets, fmt.Sprintf("%s://%s weight %d", t.Protocol(), t.Address(), t.Weight()))
			}
			fmt.Fprintf(&b, "upstream: %s, policy %s, targets [%s]\n", p.Name(), p.PolicyName(), strings.Join(targets, ", "))
			explainHealth(&b, p.Config(), rc)
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

// explainHealth describes the health, breaker and retry settings that
// apply to a request of route rc on upstream uc.
func explainHealth(b *strings.Builder, uc config.Upstream, rc *config.Route) {
	if h := uc.HealthCheck; h != nil {
		if h.Type == config.HealthTCP {
			fmt.Fprintf(b, "health:   tcp connect every %s (rise %d, fall %d)\n", h.Interval.D(), h.Rise, h.Fall)
		} else {
			fmt.Fprintf(b, "health:   %s %s every %s expecting %s (rise %d, fall %d)\n", h.Method, h.Path, h.Interval.D(), h.Status, h.Rise, h.Fall)
		}
	} else {
		b.WriteString("health:   no active checks\n")
	}
	if ph := uc.Passive; ph.Disabled {
		b.WriteString("passive:  off\n")
	} else {
		fmt.Fprintf(b, "passive:  eject after %d consecutive failures for %s (growing, max %s), at most %d%% of targets\n",
			ph.ConsecutiveFailures, ph.BaseEjection.D(), ph.MaxEjection.D(), ph.MaxEjectedPercent)
	}
	if cb := uc.CircuitBreaker; cb.MaxRequests > 0 || cb.MaxRequestsPerTarget > 0 || cb.MaxPending > 0 {
		fmt.Fprintf(b, "breaker:  max_requests %d, per target %d, max_pending %d (0 = none)\n", cb.MaxRequests, cb.MaxRequestsPerTarget, cb.MaxPending)
	}
	r := uc.Retries
	from := "upstream"
	if rc.Retries != nil {
		r, from = *rc.Retries, "route"
	}
	rp := upstream.NewRetryPolicy(r)
	if rp.Attempts() == 0 {
		fmt.Fprintf(b, "retries:  off (%s setting)\n", from)
		return
	}
	budget := config.DefaultRetryBudgetPercent
	if ub := uc.Retries.BudgetPercent; ub != nil {
		budget = *ub // the budget is the upstream's, whoever sets the rest
	}
	fmt.Fprintf(b, "retries:  up to %d on %s, non-idempotent %t (%s setting), upstream budget %d%%\n",
		rp.Attempts(), strings.Join(r.On, ", "), r.NonIdempotent, from, budget)
}
