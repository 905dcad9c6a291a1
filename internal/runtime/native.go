package runtime

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/engine"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// nativeRoute serves one route on the own HTTP/1.1 engine (server.engine:
// native). Only bare proxy routes take this path for now: a route with
// middleware needs an *http.Request, so its requests are handed to net/http
// (docs/architecture.md, "Two engines").
type nativeRoute struct {
	rt    *Runtime
	name  string
	proxy *engine.ProxyHandler
}

// ServeEngine serves one request and writes its access-log line. The
// request was pinned to rt by Holder.Dispatch; it is released here.
func (n *nativeRoute) ServeEngine(w *engine.ResponseWriter, r *engine.Request) {
	defer n.rt.release()
	n.proxy.ServeEngine(w, r)
	n.rt.logNative(w, r)
}

// Dispatch is the own engine's choice for r: a native handler when the
// route allows it, otherwise ok=false and the connection goes to net/http.
// It allocates nothing on the native path.
func (h *Holder) Dispatch(r *engine.Request) (engine.Handler, bool) {
	rt := h.pin()
	if hd, ok := rt.dispatch(r); ok {
		return hd, true
	}
	rt.release()
	return nil, false
}

func (rt *Runtime) dispatch(r *engine.Request) (engine.Handler, bool) {
	if !rt.hasNative || r.Method == http.MethodConnect || r.Method == http.MethodTrace || rt.isChallenge(r.Path) {
		return nil, false
	}
	// The router matches decoded paths; a percent-encoded one is left to
	// net/http, which decodes it and applies the encoded-slash rules.
	if strings.IndexByte(r.Path, '%') >= 0 {
		return nil, false
	}
	r.Path = protocol.CleanPath(r.Path)
	idx, ok := rt.router.Match(&route.Request{Method: r.Method, Host: r.Host, Path: r.Path, RawQuery: r.RawQuery, Header: &r.Header})
	if !ok || rt.native[idx] == nil {
		return nil, false
	}
	n := rt.native[idx]
	info := r.InfoSlot()
	info.Start = rt.now()
	info.Scheme = r.Scheme
	info.Route = n.name
	peer := r.Peer.Addr().Unmap()
	info.ClientIP = protocol.ClientIP(peer, &r.Header, rt.trusted)
	if rt.ridHeader != "" {
		// As on the net/http path (serve.go): kept only from a trusted
		// peer and only when well-formed.
		id := r.Header.Get(rt.ridHeader)
		if !rt.trusted.Contains(peer) || !protocol.ValidRequestID(id) {
			id = r.GenerateID()
		}
		r.ID = id
		info.ID = id
	}
	r.Info = info
	return n, true
}

// logNative writes the access-log line of a natively served request.
func (rt *Runtime) logNative(w *engine.ResponseWriter, r *engine.Request) {
	if rt.access == nil {
		return
	}
	e := observe.AccessEntry{
		Info:     r.Info,
		Method:   r.Method,
		Host:     r.Host,
		Path:     r.Path,
		Status:   w.Status(),
		BytesIn:  r.BodyBytes(),
		BytesOut: w.BodyWritten(),
		Duration: rt.now().Sub(r.Info.Start),
	}
	rt.access.write(&e)
}

// buildNative prepares route i for the own engine when it can run there:
// a proxy route without middleware, to a pool the engine can serve
// (HTTP/1.1 targets; no sticky cookie or placeholder hash key).
func (rt *Runtime) buildNative(i int, rc *config.Route, view *stateView) error {
	if rt.cfg.Server.Engine != config.EngineNative || rc.Upstream == "" || len(rc.Middleware) > 0 {
		return nil
	}
	pool := rt.pools[rc.Upstream]
	if pool == nil || !pool.NativeOK() {
		return nil
	}
	conns, err := sharedConnPool(view, pool, rt.cfg.Upstreams[rc.Upstream])
	if err != nil {
		return err
	}
	preserve := rc.PreserveHost == nil || *rc.PreserveHost
	ph, err := engine.NewProxyHandler(engine.ProxyOptions{
		Pool:         pool,
		Conns:        conns,
		PreserveHost: preserve,
		Timeouts: engine.Timeouts{
			Connect:        rc.Timeouts.Connect.D(),
			ResponseHeader: rc.Timeouts.ResponseHeader.D(),
			Idle:           rc.Timeouts.Idle.D(),
			Total:          rc.Timeouts.Total.D(),
		},
		Trusted:         rt.trusted,
		RequestIDHeader: rt.ridHeader,
		Logger:          rt.logger,
		Now:             rt.now,
		Retries:         rt.retryPolicy(rc),
	})
	if err != nil {
		return err
	}
	if rt.native == nil {
		rt.native = make([]*nativeRoute, len(rt.cfg.Routes))
	}
	rt.native[i] = &nativeRoute{rt: rt, name: rc.Name, proxy: ph}
	rt.hasNative = true
	return nil
}

// directClient returns the own engine's HTTP/1.1 client for pool's
// requests without a body or with a small one on the net/http side
// (HTTP/2, HTTP/3, routes with middleware), or nil to send them all
// through the pool's Transport: for targets other than plain HTTP/1.1,
// and when max_conns_per_target is set, whose bound each client keeps for
// its own connections (a second client would let the two together open
// twice as many).
func (rt *Runtime) directClient(pool *upstream.Pool, view *stateView) (proxy.Direct, error) {
	uc := rt.cfg.Upstreams[pool.Name()]
	if uc.MaxConnsPerTarget > 0 || !pool.HTTP1Only() {
		return nil, nil
	}
	cp, err := sharedConnPool(view, pool, uc)
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// sharedConnPool is the own engine's connection pool for pool, kept across
// reloads while the pool's identity is unchanged (its connections survive).
func sharedConnPool(view *stateView, pool *upstream.Pool, uc config.Upstream) (*engine.ConnPool, error) {
	v, err := view.Shared("connpool|"+pool.Identity(), func() (any, error) {
		cp, err := engine.NewConnPool(engine.PoolOptions{MaxIdlePerTarget: uc.MaxIdlePerTarget, MaxConnsPerTarget: uc.MaxConnsPerTarget, IdleTimeout: uc.IdleConnTimeout.D()})
		if err != nil {
			return nil, fmt.Errorf("connection pool for %s: %w", pool.Name(), err)
		}
		return &connPoolCloser{pool: cp}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*connPoolCloser).pool, nil
}

// connPoolCloser lets the state store close a ConnPool (io.Closer) once no
// runtime uses it.
type connPoolCloser struct{ pool *engine.ConnPool }

var _ io.Closer = (*connPoolCloser)(nil)

func (c *connPoolCloser) Close() error {
	c.pool.Close()
	return nil
}
