package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/action"
	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	_ "github.com/gatehouse-proxy/gatehouse/internal/middleware/all" // register every middleware
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// generations numbers successful builds for logs. A process-wide counter is
// the one piece of shared state here: it only ever increments.
var generations atomic.Uint64

// Build compiles cfg (already Normalized) into a Runtime. State whose
// identity is unchanged is taken over from prev (nil at start-up): upstream
// pools with their connections, the access-log sink. prev keeps serving
// until the caller swaps; if Build fails nothing changes.
//
// Errors are a config.ErrorList with positions in cfg's file.
func Build(cfg *config.Config, prev *Runtime, opts Options) (*Runtime, error) {
	if opts.Logger == nil {
		return nil, fmt.Errorf("runtime: Options.Logger is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var errs config.ErrorList
	state := newStateStore()
	if prev != nil {
		state = prev.state
	}
	view := state.view()
	rt := &Runtime{
		state:   state,
		cfg:     cfg,
		pools:   make(map[string]*upstream.Pool, len(cfg.Upstreams)),
		logger:  opts.Logger,
		now:     opts.Now,
		drained: make(chan struct{}),
	}
	if !cfg.Server.RequestID.Disabled {
		rt.ridHeader = http.CanonicalHeaderKey(cfg.Server.RequestID.Header)
	}
	trusted, err := protocol.NewTrustedSet(cfg.Server.TrustedProxies)
	if err != nil {
		errs = append(errs, config.Errorf(cfg.Pos("$.server.trusted_proxies"), "write CIDRs like 10.0.0.0/8 or single IPs", "%v", err))
	}
	rt.trusted = trusted

	for name, uc := range cfg.Upstreams {
		p, err := reusePool(prev, name, uc, upstream.PoolOptions{Now: opts.Now, Logger: opts.Logger})
		if err != nil {
			errs = append(errs, config.Errorf(cfg.Pos("$.upstreams."+name), "", "upstream %q: %v", name, err))
			continue
		}
		rt.pools[name] = p
	}

	router, err := route.Compile(cfg.Routes)
	if err != nil {
		errs = append(errs, routeErrors(cfg, err)...)
	}
	rt.router = router

	clu, err := sharedCluster(view, cfg, opts)
	if err != nil {
		errs = append(errs, config.AsErrorList(err, cfg.Pos("$.cluster"))...)
	}
	errs = append(errs, rt.buildACME(view, clu, opts)...)
	if err := rt.buildTickets(clu, opts); err != nil {
		errs = append(errs, config.AsErrorList(err, cfg.Pos("$.cluster"))...)
	}
	env := middleware.Env{Logger: opts.Logger, Now: opts.Now, Cluster: clu, State: view, DryRun: opts.DryRun}
	rt.routes = make([]compiledRoute, len(cfg.Routes))
	for i := range cfg.Routes {
		cr, rerrs := rt.buildRoute(i, &cfg.Routes[i], env, view)
		errs = append(errs, rerrs...)
		rt.routes[i] = cr
		if err := rt.buildNative(i, &cfg.Routes[i], view); err != nil {
			errs = append(errs, config.AsErrorList(err, cfg.Pos(routePath(i)))...)
		}
	}

	rt.stateKeys = view.used
	if len(errs) > 0 {
		rt.closeNew(prev)
		state.release(rt.stateKeys)
		return nil, errs
	}
	if !opts.DryRun {
		sink, err := openAccessSink(cfg.Log.Access, prev)
		if err != nil {
			rt.closeNew(prev)
			state.release(rt.stateKeys)
			return nil, config.ErrorList{config.Errorf(cfg.Pos("$.log.access.output"), "check the path and its directory's permissions", "cannot open access log: %v", err)}
		}
		rt.access = sink
		// Health checks and DNS re-resolution run only for a runtime that
		// will serve; a reused pool is already running (Start is once).
		for _, p := range rt.pools {
			p.Start()
		}
	}
	rt.generation = generations.Add(1)
	return rt, nil
}

// sharedCluster returns the cluster connection, kept across reloads while
// its configuration is unchanged.
func sharedCluster(view *stateView, cfg *config.Config, opts Options) (*cluster.Cluster, error) {
	v, err := view.Shared(clusterKey(cfg), func() (any, error) { return cluster.New(cfg.Cluster, opts.Logger) })
	if err != nil {
		return nil, err
	}
	return v.(*cluster.Cluster), nil
}

// clusterKey identifies the cluster connection: everything that makes a
// new client necessary. State built on the client (ACME storage) keys
// itself with it too, so it never outlives the client it uses.
func clusterKey(cfg *config.Config) string {
	r := cfg.Cluster.Redis
	if r == nil {
		return "cluster"
	}
	return fmt.Sprintf("cluster|%s|%s|%d|%s|%s|%s", r.Address, r.Username, r.DB, r.Prefix, r.Timeout.D(), hashSecret(r.Password))
}

// hashSecret keeps a secret out of identity keys (they may be logged).
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// closeNew releases pools a failed build created (not those taken over).
func (rt *Runtime) closeNew(prev *Runtime) {
	for name, p := range rt.pools {
		if prev == nil || prev.pools[name] != p {
			p.Close()
		}
	}
}

// reusePool takes over prev's pool when its identity (targets and transport
// settings) is unchanged, so connections and state survive the reload.
func reusePool(prev *Runtime, name string, uc config.Upstream, po upstream.PoolOptions) (*upstream.Pool, error) {
	p, err := upstream.NewPool(name, uc, po)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		if old, ok := prev.pools[name]; ok {
			if old.Identity() == p.Identity() {
				p.Close()
				return old, nil
			}
			// Settings changed: a new pool, but the targets that stay
			// keep their health, ejections and latency estimates.
			p.Inherit(old)
		}
	}
	return p, nil
}

func routePath(i int) string { return "$.routes[" + strconv.Itoa(i) + "]" }

// buildRoute compiles one route's terminal handler and wraps it in its
// middleware, last entry innermost, so the chain runs in config order.
func (rt *Runtime) buildRoute(i int, rc *config.Route, env middleware.Env, view *stateView) (compiledRoute, config.ErrorList) {
	cfg := rt.cfg
	cr := compiledRoute{name: rc.Name}
	for _, m := range rc.Match.Methods {
		switch strings.ToUpper(m) {
		case http.MethodConnect:
			cr.allowsConnect = true
		case http.MethodTrace:
			cr.allowsTrace = true
		}
	}
	var errs config.ErrorList
	var h http.Handler
	var err error
	switch {
	case rc.Upstream != "":
		cr.terminal = "upstream " + rc.Upstream
		pool := rt.pools[rc.Upstream]
		if pool == nil {
			// Reported already (bad upstream) or by Normalize.
			return cr, errs
		}
		preserve := rc.PreserveHost == nil || *rc.PreserveHost
		var direct proxy.Direct
		if direct, err = rt.directClient(pool, view); err != nil {
			return cr, config.AsErrorList(err, cfg.Pos(routePath(i)))
		}
		h, err = proxy.New(proxy.Options{
			Pool:         pool,
			PreserveHost: preserve,
			Timeouts: proxy.Timeouts{
				Connect:        rc.Timeouts.Connect.D(),
				ResponseHeader: rc.Timeouts.ResponseHeader.D(),
				Idle:           rc.Timeouts.Idle.D(),
				Total:          rc.Timeouts.Total.D(),
			},
			Trusted:         rt.trusted,
			RequestIDHeader: rt.ridHeader,
			Logger:          rt.logger,
			Retries:         rt.retryPolicy(rc),
			Direct:          direct,
		})
	case rc.Redirect != nil:
		cr.terminal = "redirect"
		h, err = action.NewRedirect(*rc.Redirect)
	case rc.Respond != nil:
		cr.terminal = "respond"
		h, err = action.NewRespond(*rc.Respond)
	case rc.Static != nil:
		cr.terminal = "static"
		st := *rc.Static
		st.Root = resolvePath(cfg.File, st.Root)
		h, err = action.NewStatic(st, staticStripPrefix(rc))
	default:
		return cr, config.ErrorList{config.Errorf(cfg.Pos(routePath(i)), "add one of upstream, redirect, respond, static", "route %q has no terminal action", rc.Name)}
	}
	if err != nil {
		errs = append(errs, config.AsErrorList(err, cfg.Pos(routePath(i)))...)
		return cr, errs
	}
	mws, err := middleware.Build(rc.Middleware, env)
	if err != nil {
		return cr, append(errs, config.AsErrorList(err, cfg.Pos(routePath(i)))...)
	}
	for _, spec := range rc.Middleware {
		cr.chain = append(cr.chain, spec.Name)
	}
	h = middleware.Chain(h, mws...)
	cr.handler = h
	return cr, errs
}

// resolvePath makes a relative path relative to the configuration file's
// directory, so a config behaves the same whatever directory Gatehouse was
// started from.
func resolvePath(configFile, p string) string {
	if p == "" || filepath.IsAbs(p) || configFile == "" || strings.HasPrefix(configFile, "(") {
		return p
	}
	return filepath.Join(filepath.Dir(configFile), p)
}

// staticStripPrefix is the prefix removed before a file lookup: explicit, or
// by default the prefix of a single "/x/*" path match, so that route
// "/assets/*" with root ./public serves ./public/app.css for /assets/app.css.
func staticStripPrefix(rc *config.Route) string {
	if rc.Static.StripPrefix != nil {
		return *rc.Static.StripPrefix
	}
	if len(rc.Match.Path) == 1 && strings.HasSuffix(rc.Match.Path[0], "/*") {
		return strings.TrimSuffix(rc.Match.Path[0], "/*")
	}
	return ""
}

// routeErrors positions the router's compile errors at the field they name.
func routeErrors(cfg *config.Config, err error) config.ErrorList {
	var out config.ErrorList
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *route.CompileError
		if errors.As(err, &ce) {
			out = append(out, config.Errorf(cfg.Pos(routePath(ce.Route)+"."+ce.Field), "", "route %q: %v", ce.Name, ce.Err))
			return
		}
		out = append(out, config.Errorf(cfg.Pos("$.routes"), "", "%v", err))
	}
	walk(err)
	return out
}

// retryPolicy is the route's retry settings: its own when it has any,
// otherwise its upstream's.
func (rt *Runtime) retryPolicy(rc *config.Route) upstream.RetryPolicy {
	if rc.Retries != nil {
		return upstream.NewRetryPolicy(*rc.Retries)
	}
	return upstream.NewRetryPolicy(rt.cfg.Upstreams[rc.Upstream].Retries)
}
