package listen

import (
	"context"
	"net"
	"sync"
	"time"
)

// connSet tracks connections served outside an http.Server's bookkeeping
// (hijacked, then served as HTTP/2), so that shutdown can wait for them
// and a forced close can end them.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{} // nil after closeAll
	gone  chan struct{}         // closed (and replaced) when one ends
}

// newConnSet returns an empty set.
func newConnSet() connSet {
	return connSet{conns: make(map[net.Conn]struct{}), gone: make(chan struct{})}
}

// add records c; false after closeAll (the caller closes c).
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	close(s.gone)
	s.gone = make(chan struct{})
}

// goAwayAgain is how often wait repeats the GOAWAY (see wait).
const goAwayAgain = 50 * time.Millisecond

// wait returns when no connection is left or ctx ends (ctx's error). The
// connections learn of the shutdown from the GOAWAY the HTTP/2 server's
// Shutdown hook sends them, which goAway runs again every goAwayAgain:
// x/net registers a connection only once ServeConn has started, so one
// whose handshake or h2c upgrade finished just as Shutdown began missed
// the first GOAWAY and would be served until ctx ends. x/net sends one
// GOAWAY per connection, however often it is asked.
func (s *connSet) wait(ctx context.Context, goAway func()) error {
	tick := time.NewTicker(goAwayAgain)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n, gone := len(s.conns), s.gone
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-gone:
		case <-tick.C:
			goAway()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeAll closes every tracked connection and refuses later ones.
func (s *connSet) closeAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}
