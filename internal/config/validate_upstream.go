package config

import (
	"regexp"
	"strconv"
	"strings"
)

func (v *validator) upstreams() {
	for _, name := range v.c.upstreamNames() {
		u := v.c.Upstreams[name]
		path := ChildPath("$.upstreams", name)
		if name == "" {
			v.add(path, "", "an upstream needs a name")
		}
		if len(u.Targets) == 0 {
			v.add(path, `add targets: [ "10.0.0.5:8080" ]`, "upstream %q has no targets", name)
		}
		scheme := ""
		for i, t := range u.Targets {
			tp := IndexPath(path+".targets", i)
			pt, hint, err := ParseTarget(t)
			if err != nil {
				v.add(tp, hint, "upstream %q: %s", name,
					strings.TrimPrefix(err.Error(), ErrBadTarget.Error()+": "))
				continue
			}
			if scheme == "" {
				scheme = pt.Scheme
			} else if pt.Scheme != scheme {
				v.add(tp, "split the targets into one upstream per scheme",
					"upstream %q mixes %s:// and %s:// targets", name, scheme, pt.Scheme)
			}
		}
		if u.TLS != nil && scheme != "" && scheme != "https" {
			v.add(path+".tls", "write the targets as https://host:port", "upstream %q has tls settings but no https:// targets", name)
		}
		if u.TLS != nil && (u.TLS.Cert == "") != (u.TLS.Key == "") {
			v.add(path+".tls", "a client certificate needs both cert and key", "upstream %q: tls cert and key go together", name)
		}
		v.oneOf(path+".policy", "policy", u.Policy, Policies)
		v.policySettings(path, name, u)
		if u.MaxIdlePerTarget < 0 {
			v.add(path+".max_idle_per_target", "", "upstream %q: max_idle_per_target must not be negative", name)
		}
		if u.MaxConnsPerTarget < 0 {
			v.add(path+".max_conns_per_target", "use 0 for no bound", "upstream %q: max_conns_per_target must not be negative", name)
		}
		v.nonNegative(path+".idle_conn_timeout", "idle_conn_timeout", u.IdleConnTimeout)
		v.nonNegative(path+".slow_start", "slow_start", u.SlowStart)
		v.nonNegative(path+".resolve_interval", "resolve_interval", u.ResolveInterval)
		v.timeouts(path+".timeouts", u.Timeouts)
		if u.HealthCheck != nil {
			v.healthCheck(path+".health_check", name, u.HealthCheck)
		}
		v.passive(path+".passive_health", name, u.Passive)
		cb := u.CircuitBreaker
		if cb.MaxRequests < 0 || cb.MaxRequestsPerTarget < 0 || cb.MaxPending < 0 {
			v.add(path+".circuit_breaker", "use 0 for no bound", "upstream %q: circuit_breaker limits must not be negative", name)
		}
		v.retries(path+".retries", u.Retries)
	}
}

func (v *validator) policySettings(path, name string, u Upstream) {
	if u.Policy == PolicyHash && u.Hash == nil {
		u.Hash = &HashPolicy{Key: DefaultHashKey, Fallback: DefaultPolicy}
	}
	if h := u.Hash; h != nil {
		if u.Policy != PolicyHash {
			v.add(path+".hash", `set policy: hash`, "upstream %q has hash settings but policy %q", name, u.Policy)
		}
		if err := ValidateHashKey(h.Key); err != nil {
			v.add(path+".hash.key", `use client_ip, path, header:NAME, cookie:NAME or a placeholder expression like "{header.X-Tenant}"`,
				"upstream %q: hash key %q: %v", name, h.Key, err)
		}
		v.oneOf(path+".hash.fallback", "fallback policy", h.Fallback, FallbackPolicies)
	}
	if u.Policy == PolicyCookie && u.Sticky == nil {
		v.add(path, `add sticky: { secret: "${STICKY_SECRET}" }`, "upstream %q: policy cookie needs sticky settings with a secret", name)
	}
	if u.Policy == PolicyCookie && u.ResolveInterval > 0 {
		v.add(path+".resolve_interval", "use policy hash with key cookie:NAME, which follows re-resolved addresses, or list the addresses",
			"upstream %q: sticky cookies are signed for the configured targets and cannot name addresses found by re-resolution", name)
	}
	if s := u.Sticky; s != nil {
		if u.Policy != PolicyCookie {
			v.add(path+".sticky", `set policy: cookie`, "upstream %q has sticky settings but policy %q", name, u.Policy)
		}
		if len(s.Secret) < 16 {
			v.add(path+".sticky.secret", "use a random secret of at least 16 characters, the same on every instance",
				"upstream %q: sticky secret is missing or too short", name)
		}
		if !validFieldToken(s.Name) {
			v.add(path+".sticky.name", "", "upstream %q: %q is not a valid cookie name", name, s.Name)
		}
		v.nonNegative(path+".sticky.max_age", "sticky.max_age", s.MaxAge)
		v.oneOf(path+".sticky.fallback", "fallback policy", s.Fallback, FallbackPolicies)
	}
}

// ValidateHashKey checks a hash.key: client_ip, path, header:NAME,
// cookie:NAME, or an expression with at least one {placeholder}.
func ValidateHashKey(k string) error {
	switch {
	case k == "client_ip" || k == "path":
		return nil
	case strings.HasPrefix(k, "header:"), strings.HasPrefix(k, "cookie:"):
		_, n, _ := strings.Cut(k, ":")
		if !validFieldToken(n) {
			return errBadName
		}
		return nil
	case strings.Contains(k, "{") && strings.Contains(k, "}"):
		return nil
	}
	return errUnknownKey
}

type constErr string

func (e constErr) Error() string { return string(e) }

const (
	errBadName    = constErr("the name after the colon is not a valid header or cookie name")
	errUnknownKey = constErr("unknown key")
)

func validFieldToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func (v *validator) healthCheck(path, name string, h *HealthCheck) {
	v.oneOf(path+".type", "health check type", h.Type, []string{HealthHTTP, HealthTCP})
	if h.Type == HealthHTTP {
		if !strings.HasPrefix(h.Path, "/") {
			v.add(path+".path", `write an absolute path such as "/healthz"`, "upstream %q: health check path %q must start with /", name, h.Path)
		}
		v.oneOf(path+".method", "health check method", h.Method, []string{"GET", "HEAD"})
		if _, err := ParseStatusRanges(h.Status); err != nil {
			v.add(path+".status", `write "200-399", "200" or "200-299,404"`, "upstream %q: health check status: %v", name, err)
		}
		if re, ok := strings.CutPrefix(h.Body, "~"); ok {
			if _, err := regexp.Compile(re); err != nil {
				v.add(path+".body", "check the regular expression (Go RE2 syntax)", "upstream %q: health check body: %v", name, err)
			}
		}
	} else if h.Path != "" || h.Body != "" || h.Status != "" || h.Method != "" || h.Host != "" {
		v.add(path, "remove path, method, host, status and body, or use type: http", "upstream %q: a tcp health check only connects", name)
	}
	if h.Interval <= 0 {
		v.add(path+".interval", durationHint, "upstream %q: health check interval must be positive", name)
	}
	if h.Timeout <= 0 {
		v.add(path+".timeout", durationHint, "upstream %q: health check timeout must be positive", name)
	}
	if h.Rise < 1 || h.Fall < 1 {
		v.add(path, "rise and fall count consecutive checks: 1 or more", "upstream %q: health check rise and fall must be at least 1", name)
	}
}

// StatusRange is an inclusive range of status codes.
type StatusRange struct{ Lo, Hi int }

// ParseStatusRanges parses "200-399", "200", "200-299,404".
func ParseStatusRanges(s string) ([]StatusRange, error) {
	var out []StatusRange
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return nil, constErr("\"" + part + "\" is not a status or range between 100 and 599")
		}
		out = append(out, StatusRange{l, h})
	}
	return out, nil
}

func (v *validator) passive(path, name string, p PassiveHealth) {
	if p.ConsecutiveFailures < 0 || p.MinRequests < 0 {
		v.add(path, "", "upstream %q: passive_health counts must not be negative", name)
	}
	if p.ErrorRate < 0 || p.ErrorRate > 100 {
		v.add(path+".error_rate", "a percentage from 1 to 100, or 0 for off", "upstream %q: error_rate must be 0 to 100", name)
	}
	if p.MaxEjectedPercent < 0 || p.MaxEjectedPercent > 100 {
		v.add(path+".max_ejected_percent", "a percentage from 0 to 100", "upstream %q: max_ejected_percent must be 0 to 100", name)
	}
	v.nonNegative(path+".window", "passive_health.window", p.Window)
	v.nonNegative(path+".base_ejection", "passive_health.base_ejection", p.BaseEjection)
	v.nonNegative(path+".max_ejection", "passive_health.max_ejection", p.MaxEjection)
}

func (v *validator) retries(path string, r Retries) {
	if r.Attempts != nil && (*r.Attempts < 0 || *r.Attempts > 10) {
		v.add(path+".attempts", "0 turns retries off; more than a few only adds load", "retries.attempts must be 0 to 10")
	}
	for i, c := range r.On {
		v.oneOf(IndexPath(path+".on", i), "retry condition", c, RetryConditions)
	}
	v.nonNegative(path+".per_try_timeout", "retries.per_try_timeout", r.PerTryTimeout)
	if r.BudgetPercent != nil && (*r.BudgetPercent < 0 || *r.BudgetPercent > 100) {
		v.add(path+".budget_percent", "a percentage from 0 to 100", "retries.budget_percent must be 0 to 100")
	}
	if r.MinRetriesPerSecond != nil && *r.MinRetriesPerSecond < 0 {
		v.add(path+".min_retries_per_second", "", "retries.min_retries_per_second must not be negative")
	}
	if r.MaxBufferedBody < 0 {
		v.add(path+".max_buffered_body", "", "retries.max_buffered_body must not be negative")
	}
}
