package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/engine"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// Manager owns the listening sockets. Listeners outlive reloads (DESIGN.md):
// Apply opens the ones a configuration adds, keeps those whose address is
// unchanged and drains the ones it removes. Every listener serves the same
// handler (the runtime Holder), so a reload never touches sockets it keeps.
//
// Safe for concurrent use.
type Manager struct {
	handler http.Handler
	logger  *slog.Logger

	mu      sync.Mutex
	servers map[string]*server                    // by listenerKey
	tlsOpts func(config.Listener) tlsconf.Options // SetTLSOptions (tls.go); may be nil
	closed  bool
}

// NewManager returns a Manager serving handler on the listeners Apply opens.
func NewManager(handler http.Handler, logger *slog.Logger) *Manager {
	return &Manager{handler: handler, logger: logger, servers: make(map[string]*server)}
}

// server is one listener and the HTTP server on it.
type server struct {
	key    string
	name   string
	addr   net.Addr
	srv    *http.Server
	certs  *tlsconf.Server        // certificates (tls.go); nil for plain listeners
	hsts   atomic.Pointer[string] // Strict-Transport-Security value; TLS listeners only
	tls    *tlsDispatcher         // nil for plain listeners
	engine *engine.Server         // the own HTTP/1.1 engine; nil unless server.engine is native
	h2c    *h2cHandler            // h2c rules (h2c.go); holds upgraded connections
	h3     *h3Server              // HTTP/3 on the UDP side; nil unless tls.http3
	done   chan struct{}
	// writeTimeout is server.write_timeout, for HTTP/2 (h2.go).
	writeTimeout time.Duration
}

// Dispatcher is implemented by a handler that can also serve the own
// engine's requests natively (runtime.Holder): with server.engine: native
// a plain listener is served by the engine, which asks Dispatch for each
// request and hands to net/http (the handler) what it does not serve.
type Dispatcher interface {
	Dispatch(r *engine.Request) (engine.Handler, bool)
}

// shutdown stops accepting and waits until every connection, HTTP/2 ones
// included, is done or ctx ends; it reports ctx's error in that case and
// leaves the closing to forceClose.
func (s *server) shutdown(ctx context.Context) error {
	defer s.closeCerts()
	if s.engine != nil {
		if err := s.engine.Shutdown(ctx); err != nil {
			return err
		}
	}
	if s.h3 != nil {
		if err := s.h3.shutdown(ctx); err != nil {
			return err
		}
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return err
	}
	// A second Shutdown of the stopped server only runs its hooks again,
	// x/net's GOAWAY among them (connSet.wait).
	goAway := func() { _ = s.srv.Shutdown(ctx) }
	if s.h2c != nil {
		if err := s.h2c.conns.wait(ctx, goAway); err != nil {
			return err
		}
	}
	if s.tls != nil {
		return s.tls.waitConns(ctx, goAway)
	}
	return nil
}

// forceClose closes the listener and every connection still open on it,
// HTTP/2 ones included (the dispatcher serves those outside srv's
// bookkeeping, so srv.Close alone would leave them running).
func (s *server) forceClose() {
	s.closeCerts()
	if s.engine != nil {
		_ = s.engine.Close()
	}
	_ = s.srv.Close()
	if s.tls != nil {
		s.tls.closeConns()
	}
	if s.h2c != nil {
		s.h2c.conns.closeAll()
	}
	if s.h3 != nil {
		s.h3.close()
	}
}

// Apply makes the open listeners match cfg. New listeners are bound before
// Apply returns (so "listening" is logged with the real port); a listener
// that cannot be bound fails the whole Apply and nothing that Apply opened
// stays open. Removed listeners are drained in the background, bounded by
// cfg.Server.ShutdownTimeout.
//
// Server settings (timeouts, header limits) are taken when a listener is
// opened; a reload changes them for listeners it opens, not for kept ones.
func (m *Manager) Apply(cfg *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("listen: manager is shut down")
	}
	want := make(map[string]bool, len(cfg.Listeners))
	var opened []*server
	for _, lc := range cfg.Listeners {
		key := listenerKey(lc)
		want[key] = true
		if s, ok := m.servers[key]; ok {
			if err := s.updateTLS(lc); err != nil {
				m.closeAll(opened)
				return fmt.Errorf("listener %s: %w", lc.Address, err)
			}
			continue
		}
		s, err := m.open(cfg, lc)
		if err != nil {
			m.closeAll(opened)
			return fmt.Errorf("listener %s: %w", lc.Address, err)
		}
		opened = append(opened, s)
	}
	for _, s := range opened {
		m.servers[s.key] = s
	}
	for addr, s := range m.servers {
		if !want[addr] {
			delete(m.servers, addr)
			m.logger.Info("closing listener", "listener", s.name, "address", s.addr.String())
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.D())
				defer cancel()
				if s.shutdown(ctx) != nil {
					// Drained and closed (DESIGN.md): what is still
					// open at the deadline (a stream, an h2 connection)
					// is cut rather than left running on a socket the
					// configuration no longer has.
					s.forceClose()
				}
			}()
		}
	}
	return nil
}

func (m *Manager) closeAll(servers []*server) {
	for _, s := range servers {
		_ = s.srv.Close()
		s.closeCerts()
		if s.h3 != nil {
			s.h3.close()
		}
	}
}

// listenerKey is a listener's identity across reloads: its address. Port 0
// asks the OS for any port, so several such listeners may share an address
// string; their names tell them apart.
func listenerKey(lc config.Listener) string {
	if strings.HasSuffix(lc.Address, ":0") {
		return lc.Address + "|" + lc.Name
	}
	return lc.Address
}

// open binds one listener and starts serving it.
func (m *Manager) open(cfg *config.Config, lc config.Listener) (*server, error) {
	raw, err := net.Listen("tcp", lc.Address)
	if err != nil {
		return nil, err
	}
	// Connection-level protection on the raw socket, before TLS and the
	// framing guard: max_conns / accept_rate, the PROXY header, then the
	// per-client limit on the header's address (limits.go, proxyproto.go).
	ln, err := ProtectListener(raw, lc, cfg.Server.ReadHeaderTimeout.D(), m.logger)
	if err != nil {
		_ = raw.Close()
		return nil, err
	}
	limits := protocol.FramingLimits{
		MaxURIBytes:    int(cfg.Server.MaxURIBytes),
		MaxHeaderBytes: int(cfg.Server.MaxHeaderBytes),
	}
	s := &server{key: listenerKey(lc), name: lc.Name, addr: ln.Addr(), done: make(chan struct{}),
		writeTimeout: cfg.Server.WriteTimeout.D()}
	s.srv = &http.Server{
		Handler:           m.handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
		ReadTimeout:       0, // a whole-body deadline would cut long uploads; the idle gap is bounded per read below
		IdleTimeout:       cfg.Server.IdleTimeout.D(),
		MaxHeaderBytes:    int(cfg.Server.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(m.logger.Handler(), slog.LevelDebug),
	}
	if lc.RedirectTo != "" {
		// tls.redirect_http of another listener (redirect.go); served by
		// net/http below, never by the own engine's routes.
		s.srv.Handler = m.redirectHandler(lc.RedirectTo, m.handler)
	}
	// h2c and the Alt-Svc advertisement wrap the handler before anything
	// can accept a connection (h2.go).
	if err := s.configureVersions(lc, m.logger); err != nil {
		_ = ln.Close()
		return nil, err
	}
	var serveLn net.Listener
	if lc.TLS != nil {
		if s.certs, err = m.openTLS(lc); err != nil {
			_ = ln.Close()
			return nil, err
		}
		s.setHSTS(lc.TLS.HSTS)
		s.srv.Handler = s.withHSTS(s.srv.Handler)
		tlsCfg := s.certs.TLSConfig()
		s.srv.TLSConfig = tlsCfg
		s.srv.ConnContext = markTLS
		s.tls, err = newTLSDispatcher(ln, tlsCfg, s.srv, limits, cfg.Server.ReadHeaderTimeout.D(), s.writeTimeout, m.logger)
		if err != nil {
			_ = ln.Close()
			s.closeCerts()
			return nil, err
		}
		// Min data rate over plaintext HTTP/1.1 (the dispatcher hands out
		// guarded h1 connections; h2 ones never pass through Accept).
		if serveLn, err = MinDataRateListener(s.tls, cfg.Server.MinDataRate); err != nil {
			_ = s.tls.Close()
			s.closeCerts()
			return nil, err
		}
	} else if d, ok := m.handler.(Dispatcher); ok && cfg.Server.Engine == config.EngineNative && lc.RedirectTo == "" {
		// The own engine owns the socket; what it hands over reaches
		// net/http through the handoff listener, still behind the guard.
		handoff := engine.NewHandoffListener(ln.Addr())
		s.engine, err = engine.NewServer(engine.Config{
			Dispatch:      d.Dispatch,
			Handoff:       handoff,
			Limits:        limits,
			HeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
			IdleTimeout:   cfg.Server.IdleTimeout.D(),
			BodyTimeout:   cfg.Server.ReadTimeout.D(),
			WriteTimeout:  cfg.Server.WriteTimeout.D(),
			Scheme:        "http",
			Logger:        m.logger,
		})
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		rateLn, err := MinDataRateListener(ln, cfg.Server.MinDataRate)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		go func() {
			if err := s.engine.Serve(rateLn); err != nil && !errors.Is(err, engine.ErrServerClosed) {
				m.logger.Error("listener stopped", "listener", s.name, "error", err)
			}
		}()
		serveLn = GuardListener(handoff, limits, WithGuardLogger(m.logger))
	} else {
		// The rate wrapper goes over the guard: it relies on the guard
		// having refused non-HTTP bytes (mindatarate.go).
		serveLn, err = MinDataRateListener(GuardListener(ln, limits, WithGuardLogger(m.logger)), cfg.Server.MinDataRate)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	if lc.TLS != nil && lc.TLS.HTTP3 {
		// Same address over UDP, same certificates, same handler (h3.go).
		if s.h3, err = startH3(s.addr, s.srv.TLSConfig, s.srv.Handler, s.srv, m.logger); err != nil {
			_ = serveLn.Close()
			s.closeCerts()
			return nil, err
		}
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(serveLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.logger.Error("listener stopped", "listener", s.name, "error", err)
		}
	}()
	m.logger.Info("listening", "listener", lc.Name, "address", s.addr.String(), "tls", lc.TLS != nil, "engine", engineName(s), "h2c", s.h2c.h2 != nil, "http3", s.h3 != nil)
	return s, nil
}

func engineName(s *server) string {
	if s.engine != nil {
		return config.EngineNative
	}
	return config.EngineNetHTTP
}

// Addrs returns the bound address of every open listener, by identity
// (the configured address; "address|name" for port 0).
func (m *Manager) Addrs() map[string]net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]net.Addr, len(m.servers))
	for k, s := range m.servers {
		out[k] = s.addr
	}
	return out
}

// Shutdown stops accepting on every listener and waits for in-flight
// requests on them until ctx ends; then it closes what is left. Hijacked
// connections (WebSockets) are the runtime's to drain.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	servers := make([]*server, 0, len(m.servers))
	for _, s := range m.servers {
		servers = append(servers, s)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.shutdown(ctx); err != nil {
				s.forceClose()
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

type tlsKey struct{}

// markTLS records in a connection's context that it arrived over TLS.
func markTLS(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, tlsKey{}, true)
}

// IsTLS reports whether the request context belongs to a TLS listener.
func IsTLS(ctx context.Context) bool {
	v, _ := ctx.Value(tlsKey{}).(bool)
	return v
}
