package runtime

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/acme"
	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/route"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Runtime is one compiled configuration: the router, each route's handler
// chain and the upstream pools. It is immutable once built; a reload builds
// a new one beside it (Build) and swaps it in (Holder.Swap).
type Runtime struct {
	cfg        *config.Config
	generation uint64
	router     *route.Router
	routes     []compiledRoute
	native     []*nativeRoute // by route index; nil entries go to net/http
	hasNative  bool
	pools      map[string]*upstream.Pool
	trusted    *protocol.TrustedSet
	ridHeader  string // canonical request-ID header, "" when disabled
	access     *accessSink
	logger     *slog.Logger
	now        func() time.Time
	state      *stateStore
	stateKeys  map[string]bool // keys of state this runtime holds a reference to
	// acme holds the ACME manager of each listener with tls.acme (by
	// listener name), challenge their HTTP-01 responders, tickets the
	// session ticket keys shared through Redis (acme.go). nil when unused.
	acme      map[string]*acme.Manager
	challenge http.Handler
	tickets   *cluster.TicketKeys

	inflight  atomic.Int64
	retired   atomic.Bool
	drainOnce sync.Once
	drained   chan struct{}
}

// compiledRoute is one route ready to serve.
type compiledRoute struct {
	name    string
	handler http.Handler
	// allowed holds CONNECT/TRACE when the route names them explicitly;
	// both are refused by default (protocol.RefusedByDefault).
	allowsConnect, allowsTrace bool
	chain                      []string // middleware names, for explain
	terminal                   string   // "upstream NAME", "redirect", "respond", "static"
}

// Options are the surroundings a Runtime is built in.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DryRun builds everything but opens no file (validate, explain).
	DryRun bool
}

// Config returns the configuration this Runtime was built from.
func (rt *Runtime) Config() *config.Config { return rt.cfg }

// Generation counts successful builds in this process, starting at 1.
func (rt *Runtime) Generation() uint64 { return rt.generation }

// Warnings returns the router's warnings (routes that can never match),
// positioned in the config file.
func (rt *Runtime) Warnings() []*config.Error {
	var out []*config.Error
	for _, w := range rt.router.Warnings() {
		pos := rt.cfg.Pos(routePath(w.Route) + ".match")
		out = append(out, &config.Error{Pos: pos, Msg: w.Msg})
	}
	return out
}

func (rt *Runtime) release() {
	if rt.inflight.Add(-1) == 0 && rt.retired.Load() {
		rt.drainOnce.Do(func() { close(rt.drained) })
	}
}

// retire waits until rt has served its last in-flight request (streams and
// WebSockets included: they hold their request open), then closes what next
// did not take over.
func (rt *Runtime) retire(next *Runtime) {
	rt.retired.Store(true)
	if rt.inflight.Load() == 0 {
		rt.drainOnce.Do(func() { close(rt.drained) })
	}
	<-rt.drained
	for name, p := range rt.pools {
		if next == nil || next.pools[name] != p {
			p.Close()
		}
	}
	rt.state.release(rt.stateKeys)
	if rt.access != nil && (next == nil || next.access != rt.access) {
		// Holder.pin guarantees no request runs on rt once it drained.
		rt.access.close()
	}
}

// Close retires rt for good (shutdown): waits for in-flight requests and
// releases everything. Call only after rt stopped receiving requests.
func (rt *Runtime) Close() {
	rt.retired.Store(true)
	if rt.inflight.Load() == 0 {
		rt.drainOnce.Do(func() { close(rt.drained) })
	}
	<-rt.drained
	for _, p := range rt.pools {
		p.Close()
	}
	rt.state.release(rt.stateKeys)
	if rt.access != nil {
		rt.access.close()
	}
}

// Discard releases a Runtime that was built but never served (the reload
// failed after Build): what it created is closed, what it took over from
// prev is left alone.
func (rt *Runtime) Discard(prev *Runtime) {
	rt.closeNew(prev)
	rt.state.release(rt.stateKeys)
	if rt.access != nil && (prev == nil || prev.access != rt.access) {
		rt.access.close()
	}
}
