package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("engine: server closed")

// ErrBadConfig is returned (wrapped) by NewServer for an invalid Config.
var ErrBadConfig = errors.New("engine: invalid server config")

// Handler serves one request natively. It must write one complete
// response through w (or call w.SetClose and stop, which closes the
// connection) before it returns, and must not keep w or r afterwards.
// Reading the body is optional: the server discards what is left.
type Handler interface {
	ServeEngine(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeEngine calls f(w, r).
func (f HandlerFunc) ServeEngine(w *ResponseWriter, r *Request) { f(w, r) }

// Config configures a Server. Zero durations disable the bound.
type Config struct {
	// Dispatch chooses how each request is served: a native handler, or
	// ok=false to hand the connection (this request and everything after
	// it) to Handoff. It runs on the connection's goroutine, may change
	// r.Path, r.ID and r.Info, and must not allocate on the fast path.
	// A handler it returns is always run, so it may hold resources until
	// then. Required.
	Dispatch func(r *Request) (h Handler, ok bool)
	// Handoff receives connections the engine does not serve: Dispatch
	// said !ok, an Upgrade or CONNECT request, a non-origin-form target,
	// the h2c preface. nil: such requests are answered 501 and the
	// connection closed.
	Handoff *HandoffListener
	// Limits are the framing limits; the same as the guard's so both
	// engines refuse the same requests with the same status.
	Limits protocol.FramingLimits
	// HeaderTimeout bounds reading a request head from its first byte.
	HeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection (and for the first one).
	IdleTimeout time.Duration
	// BodyTimeout bounds each wait for request body bytes.
	BodyTimeout time.Duration
	// WriteTimeout bounds each wait for the client to accept response
	// bytes (0: none); see conn.armWrite.
	WriteTimeout time.Duration
	// Scheme is copied into Request.Scheme ("http" if empty).
	Scheme string
	// Logger receives refused requests (Info) and connection errors
	// (Debug). nil discards.
	Logger *slog.Logger
	// Now is the clock for deadlines; nil means time.Now.
	Now func() time.Time
}

// Server is the engine's HTTP/1.1 server: one goroutine per connection,
// request heads read into pooled buffers that are released while the
// connection is idle. Safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	pool    *bufPool
	scheme  string
	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*conn]struct{}
	closed  bool
	connsWG sync.WaitGroup
}

// NewServer validates cfg and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Dispatch == nil {
		return nil, fmt.Errorf("%w: Dispatch is required", ErrBadConfig)
	}
	if cfg.HeaderTimeout < 0 || cfg.IdleTimeout < 0 || cfg.BodyTimeout < 0 || cfg.WriteTimeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout", ErrBadConfig)
	}
	// Validate the limits once, so per-connection scanners cannot fail.
	pool, err := newBufPool(cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Now,
		scheme: cfg.Scheme,
		pool:   pool,
		lns:    make(map[net.Listener]struct{}),
		conns:  make(map[*conn]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.scheme == "" {
		s.scheme = "http"
	}
	return s, nil
}

// Serve accepts connections on l and serves each on its own goroutine
// until l fails or the server is closed; it then returns the error
// (ErrServerClosed after Close/Shutdown). Serve does not close l on
// return unless the server was closed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Temporary (e.g. EMFILE surfaced as timeout): back off
				// as net/http does, up to one second.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("engine: accept: %w", err)
		}
		backoff = 0
		c := newConn(s, nc)
		if !s.track(c, true) {
			_ = nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track adds or removes a live connection; it refuses additions after
// Close.
func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.conns[c] = struct{}{}
		s.connsWG.Add(1)
		return true
	}
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.connsWG.Done()
	}
	return true
}

// Close closes the listeners and every connection the engine still owns
// (handed-off ones belong to their http.Server) and returns at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.lns {
		_ = l.Close()
	}
	for c := range s.conns {
		c.abort()
	}
	s.mu.Unlock()
	return nil
}

// Shutdown closes the listeners, then closes idle connections as they
// become idle and waits for busy ones to finish their exchange, until ctx
// ends (then it closes the rest and returns ctx's error). Streams do not
// outlive a Shutdown deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.lns {
		_ = l.Close()
	}
	for c := range s.conns {
		c.shutdown()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.connsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = s.Close()
		return ctx.Err()
	}
}
