package upstream

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// errNoAddresses is what a lookup that succeeded with an empty answer
// counts as: a failure, so that a name briefly missing from DNS does not
// empty the pool.
var errNoAddresses = errors.New("name has no addresses")

// lookupTimeout bounds one name's lookup (and the interval, if shorter).
const lookupTimeout = 5 * time.Second

// lookupFunc resolves a host name to its addresses (net.Resolver's
// LookupNetIP with network "ip").
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// resolver re-resolves the host names among a pool's configured targets.
// Every address of a name becomes a target of its own (same scheme and
// weight; Host header and TLS name stay the name), so the policy balances
// over the addresses and health is tracked per address. It is used by one
// goroutine at a time (Start's first round, then the loop).
type resolver struct {
	pool   *Pool
	lookup lookupFunc
	// tmpl are the configured targets, in configuration order; name[i] is
	// tmpl[i]'s host name and port[i] its port, or "" for an IP address
	// or unix socket, which is used as is.
	tmpl []*Target
	name []string
	port []uint16
	// prev[i] are the targets tmpl[i] produced last time: kept when its
	// lookup fails.
	prev [][]*Target
	// failing[name] reports whether the last lookup of name failed, so a
	// failure is logged once, and so is the recovery.
	failing map[string]bool
	// draining are targets removed from the list but still dialable:
	// a request that picked one just before it was removed may still need
	// a connection to it. One is dropped at the first round that finds
	// its in-flight count at zero (so it stays at least one interval).
	draining []*Target
}

// newResolver prepares re-resolution of p's current (configured) targets;
// nil when none is a host name.
func newResolver(p *Pool, lookup lookupFunc) *resolver {
	list := p.set.Load().list
	r := &resolver{pool: p, lookup: lookup, failing: map[string]bool{}}
	names := 0
	for _, t := range list {
		host, port := "", uint16(0)
		if t.network == "tcp" {
			h, ps, err := net.SplitHostPort(t.address)
			n, perr := strconv.ParseUint(ps, 10, 16)
			if _, ipErr := netip.ParseAddr(h); err == nil && perr == nil && ipErr != nil {
				host, port = h, uint16(n)
				names++
			}
		}
		r.tmpl = append(r.tmpl, t)
		r.name = append(r.name, host)
		r.port = append(r.port, port)
		r.prev = append(r.prev, []*Target{t})
	}
	if names == 0 {
		return nil
	}
	return r
}

// startResolver re-resolves host names every resolve_interval when it is
// set: once synchronously, so the first requests already see every
// address, then on a goroutine that p.stop ends.
func (p *Pool) startResolver() {
	interval := p.cfg.ResolveInterval.D()
	if interval <= 0 {
		return
	}
	res := p.opts.Resolver
	r := newResolver(p, func(ctx context.Context, host string) ([]netip.Addr, error) {
		return res.LookupNetIP(ctx, "ip", host)
	})
	if r == nil {
		return
	}
	timeout := min(interval, lookupTimeout)
	r.round(timeout)
	go r.loop(interval, timeout)
}

func (r *resolver) loop(interval, timeout time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-r.pool.stop:
			return
		case <-tk.C:
			r.round(timeout)
		}
	}
}

// round resolves once with a bound on the lookups, which Close also ends.
func (r *resolver) round(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		select {
		case <-r.pool.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	r.resolve(ctx)
}

// resolve looks up every name and publishes the resulting target list if
// it differs from the current one. Targets whose address is unchanged are
// kept as the same objects, so their health, counters and pooled
// connections survive.
func (r *resolver) resolve(ctx context.Context) {
	p := r.pool
	cur := p.set.Load().list
	known := make(map[string]*Target, len(cur)+len(r.draining))
	for _, t := range r.draining {
		known[t.urlHost] = t
	}
	for _, t := range cur {
		known[t.urlHost] = t
	}
	now := p.opts.Now().UnixNano()
	var next []*Target
	inNext := make(map[string]bool, len(cur))
	add := func(t *Target) {
		// Two names (or a name and an IP target) may share an address:
		// the first in configuration order owns it (the dialer maps one
		// URL host to one target).
		if !inNext[t.urlHost] {
			inNext[t.urlHost] = true
			next = append(next, t)
		}
	}
	for i, tm := range r.tmpl {
		name := r.name[i]
		if name == "" {
			add(tm)
			continue
		}
		addrs, err := r.lookup(ctx, name)
		if err == nil && len(addrs) == 0 {
			err = errNoAddresses
		}
		if err != nil {
			if !r.failing[name] {
				r.failing[name] = true
				p.opts.Logger.Warn("upstream name did not resolve; keeping its previous addresses",
					"upstream", p.name, "name", name, "error", err)
			}
			for _, t := range r.prev[i] {
				add(t)
			}
			continue
		}
		if r.failing[name] {
			delete(r.failing, name)
			p.opts.Logger.Info("upstream name resolves again", "upstream", p.name, "name", name)
		}
		// A stable order, so an unchanged answer in another order is no
		// change.
		for j := range addrs {
			addrs[j] = addrs[j].Unmap()
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		made := make([]*Target, 0, len(addrs))
		for _, a := range addrs {
			key := netip.AddrPortFrom(a, r.port[i]).String()
			t, ok := known[key]
			if !ok || t.hostHeader != tm.hostHeader || t.weight != tm.weight {
				t = resolvedTarget(tm, name, key, now)
			}
			made = append(made, t)
			add(t)
		}
		r.prev[i] = made
	}

	// Removed targets start draining; draining ones that came back leave
	// it; idle ones already draining since the last round are dropped.
	var draining []*Target
	for _, t := range r.draining {
		if !inNext[t.urlHost] && t.InFlight() > 0 {
			draining = append(draining, t)
		}
	}
	var added, removed int
	for _, t := range cur {
		if !inNext[t.urlHost] {
			removed++
			draining = append(draining, t)
		}
	}
	for _, t := range next {
		if !slices.Contains(cur, t) {
			added++
		}
	}
	drainChanged := len(draining) != len(r.draining)
	r.draining = draining
	if added == 0 && removed == 0 && slices.Equal(cur, next) && !drainChanged {
		return
	}
	p.publish(next, draining)
	if added > 0 || removed > 0 {
		p.opts.Logger.Info("upstream targets re-resolved", "upstream", p.name,
			"targets", len(next), "added", added, "removed", removed)
	}
}

// resolvedTarget makes the target for one address of tm's host name: the
// URL host (the transport's connection-pool key) is the address; the Host
// header and the TLS name stay the name.
func resolvedTarget(tm *Target, name, addrPort string, now int64) *Target {
	ct := config.Target{Network: "tcp", Address: addrPort, Scheme: tm.scheme}
	return &Target{
		raw:        ct.String() + " (" + name + ")",
		network:    "tcp",
		address:    addrPort,
		urlHost:    addrPort,
		hostHeader: tm.hostHeader,
		scheme:     tm.scheme,
		weight:     tm.weight,
		added:      now,
	}
}

// publish makes list the pool's targets, with draining still dialable.
//
// The draining targets are added to the dialer's map in a second store, so
// for an instant between the two a request that picked a just-removed
// target and dials right then fails to connect (and may be retried).
// setTargets taking the extra dialable targets would close that gap.
func (p *Pool) publish(list, draining []*Target) {
	p.setTargets(list)
	if len(draining) == 0 {
		return
	}
	cur := p.set.Load()
	ts := *cur
	ts.byHost = maps.Clone(cur.byHost)
	for _, t := range draining {
		if _, ok := ts.byHost[t.urlHost]; !ok {
			ts.byHost[t.urlHost] = t
		}
	}
	p.set.Store(&ts)
}
