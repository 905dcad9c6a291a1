package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is the admin API's own listener and HTTP server: it never serves
// routes, and routes never reach it.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Listen opens address (host:port; port 0 picks one) and serves h on it
// until Shutdown. It logs "admin listening" with the bound address.
func Listen(address string, h http.Handler, logger *slog.Logger) (*Server, error) {
	if h == nil {
		return nil, ErrOptions
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("admin: listening on %s: %w", address, err)
	}
	s := &Server{
		ln:   ln,
		done: make(chan struct{}),
		srv: &http.Server{
			Handler: h,
			// The API is small JSON both ways; a reload may take a
			// while (the build), hence the generous write timeout.
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      2 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		},
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin server stopped", "error", err)
		}
	}()
	logger.Info("admin listening", "address", ln.Addr().String())
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops accepting and waits, until ctx ends, for the requests
// under way (a reload included) to finish; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}
