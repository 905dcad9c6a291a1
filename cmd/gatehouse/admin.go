package main

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/admin"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// errShuttingDown refuses a reload asked for while the process stops.
var errShuttingDown = errors.New("shutting down")

// adminServer is the running admin API and the address it was asked for.
type adminServer struct {
	address string
	handler *admin.Handler
	srv     *admin.Server
}

// applyAdmin brings the admin API in line with c (nil: off): started when
// it appears, given the new token when only that changed, moved to a new
// listener when its address changed (the old one is stopped in the
// background: the reload asking for the move may be running on it). Call
// it with reloadMu held, or before the reload loop can run. On error the
// API stays as it was.
func (s *server) applyAdmin(c *config.Admin) error {
	cur := s.admin
	if c != nil && cur != nil && cur.address == c.Address {
		cur.handler.SetToken(c.Token)
		return nil
	}
	var next *adminServer
	if c != nil {
		h, err := admin.New(admin.Options{
			Holder:    s.holder,
			Reload:    s.reloadNow,
			Listeners: s.mgr.Addrs,
			Token:     c.Token,
			Version:   versionString(),
			Started:   s.started,
			Logger:    s.logger,
		})
		if err != nil {
			return err
		}
		srv, err := admin.Listen(c.Address, h, s.logger)
		if err != nil {
			return err
		}
		next = &adminServer{address: c.Address, handler: h, srv: srv}
	}
	s.admin = next
	if cur != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = cur.srv.Shutdown(ctx)
		}()
	}
	return nil
}

// stopAdmin refuses further reloads and stops the admin API, waiting (up
// to ctx) for its requests, a reload among them, to finish.
func (s *server) stopAdmin(ctx context.Context) {
	s.reloadMu.Lock()
	s.closing = true
	a := s.admin
	s.admin = nil
	s.reloadMu.Unlock()
	if a != nil {
		_ = a.srv.Shutdown(ctx)
	}
}
