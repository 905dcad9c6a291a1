package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts of the demo origin servers. They only guard against a stuck
// client on loopback; streams (SSE, WebSocket) are not bounded by them.
const (
	backendReadHeaderTimeout = 10 * time.Second
	backendIdleTimeout       = 60 * time.Second
	// backendShutdownTimeout bounds waiting for in-flight requests when the
	// backends stop. Streams end sooner: their context is cancelled first.
	backendShutdownTimeout = 5 * time.Second
)

// Backends are the demo's origin servers, all on 127.0.0.1 with OS-chosen
// ports. The address fields are host:port, ready to use as upstream targets;
// they are set by Start and never change. A Backends is safe for concurrent
// use; Close may be called from any goroutine, any number of times.
type Backends struct {
	// App1 and App2 are two instances of the same small web app; each names
	// itself in its answers so that load balancing is visible.
	App1, App2 string
	// Chat serves an OpenAI-style POST /v1/chat/completions (streaming SSE
	// or one JSON answer).
	Chat string
	// Embeddings serves an OpenAI-style POST /v1/embeddings with
	// deterministic vectors.
	Embeddings string
	// WebSocket serves a WebSocket echo (at / and /ws) and, for a plain GET
	// of /, an HTML page that talks to it.
	WebSocket string

	servers []*http.Server
	ws      *wsEcho
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	closeOnce sync.Once
	errMu     sync.Mutex
	err       error
}

// Start binds every backend's listener on 127.0.0.1:0 and starts serving.
// When it returns without error all listeners are bound, so the addresses
// accept connections at once. The servers stop when ctx is cancelled or
// Close is called: streams in progress (SSE, WebSocket) see their request
// context cancelled and end. A nil logger discards the servers' logs.
func Start(ctx context.Context, logger *slog.Logger) (*Backends, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &Backends{cancel: cancel, ws: newWSEcho(logger.With("backend", "websocket"))}

	specs := []struct {
		name string
		h    http.Handler
		addr *string
	}{
		{"app-1", newApp("app-1"), &b.App1},
		{"app-2", newApp("app-2"), &b.App2},
		{"chat", newChat(defaultTokenDelay, time.Now), &b.Chat},
		{"embeddings", newEmbeddings(), &b.Embeddings},
		{"websocket", b.ws, &b.WebSocket},
	}
	listeners := make([]net.Listener, 0, len(specs))
	for _, s := range specs {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			cancel()
			return nil, fmt.Errorf("demo: listen for backend %s: %w", s.name, err)
		}
		listeners = append(listeners, ln)
		*s.addr = ln.Addr().String()
	}

	for i, s := range specs {
		log := logger.With("backend", s.name)
		srv := &http.Server{
			Handler:           s.h,
			ReadHeaderTimeout: backendReadHeaderTimeout,
			IdleTimeout:       backendIdleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			// Requests inherit ctx so that stopping the backends ends
			// long streams instead of waiting for them.
			BaseContext: func(net.Listener) context.Context { return ctx },
		}
		b.servers = append(b.servers, srv)
		ln := listeners[i]
		b.wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("demo backend stopped", "err", err)
				b.setErr(fmt.Errorf("demo: backend %s: %w", s.name, err))
			}
		})
		log.Debug("demo backend listening", "addr", ln.Addr().String())
	}
	b.wg.Go(func() {
		<-ctx.Done()
		b.shutdown()
	})
	return b, nil
}

// shutdown stops accepting, lets in-flight requests finish within
// backendShutdownTimeout, then closes what is left. It runs once, after the
// Start context is done.
func (b *Backends) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), backendShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range b.servers {
		wg.Go(func() {
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
				b.setErr(fmt.Errorf("demo: backend shutdown: %w", err))
			}
		})
	}
	wg.Wait()
	// Hijacked WebSocket connections are not tracked by http.Server.
	b.ws.closeAndWait()
}

func (b *Backends) setErr(err error) {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// Close stops every backend (as cancelling Start's context does) and waits
// until all servers and their handlers, WebSocket echoes included, have
// returned. It returns the first error a server reported, if any; later
// calls return the same.
func (b *Backends) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		b.wg.Wait()
	})
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}
