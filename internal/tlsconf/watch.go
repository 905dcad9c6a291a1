package tlsconf

import (
	"context"
	"maps"
	"os"
	"time"
)

// fileStamp is what the watcher compares to see that a file changed.
// Polling mtime and size works on every filesystem, including the
// symlink swaps Kubernetes uses for mounted secrets (os.Stat follows the
// link), where inotify watches on the old target go quiet.
type fileStamp struct {
	mod   time.Time
	size  int64
	exist bool
}

func statFiles(files []string) map[string]fileStamp {
	out := make(map[string]fileStamp, len(files))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			out[f] = fileStamp{mod: fi.ModTime(), size: fi.Size(), exist: true}
		} else {
			out[f] = fileStamp{}
		}
	}
	return out
}

// run is the Server's one background goroutine: file polling, ticket key
// refresh and OCSP stapling, every PollInterval, until Close.
func (s *Server) run() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.tick()
		}
	}
}

func (s *Server) tick() {
	s.checkFiles()
	now := s.now()
	if !now.Before(s.nextTickets) {
		s.refreshTickets()
	}
	if !s.opts.DisableOCSP {
		s.stapleDue(now)
	}
}

// checkFiles reloads the certificates when a file changed. New handshakes
// get the new certificate; open connections keep theirs. A change that
// does not load (a key written after its certificate, a bad file) keeps the
// previous certificates and is logged once; the next change retries.
func (s *Server) checkFiles() {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.Load()
	cur := statFiles(fileNames(st.cfg))
	if maps.Equal(cur, s.stamps) {
		return
	}
	s.stamps = cur
	next, stamps, err := s.build(st.cfg)
	if err != nil {
		s.log.Error("certificate files changed but cannot be loaded; still serving the previous certificates", "error", err)
		return
	}
	s.install(next)
	s.stamps = stamps
	s.log.Info("certificate files reloaded", "files", len(cur))
}

// refreshTickets installs the source's current session ticket keys. On an
// error the keys in use stay.
func (s *Server) refreshTickets() {
	s.nextTickets = s.now().Add(s.opts.TicketRefresh)
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	keys, err := s.tickets.TicketKeys(ctx)
	if err != nil || len(keys) == 0 {
		s.log.Warn("cannot get session ticket keys; keeping the current ones", "error", err)
		return
	}
	s.base.SetSessionTicketKeys(keys)
	// The config GetConfigForClient returns carries them too: crypto/tls
	// takes a returned config's own keys first, and QUIC (HTTP/3) reaches
	// the listener's state only through that callback, its outer config
	// being quic-go's wrapper with keys of its own (random, per process).
	s.mu.Lock()
	s.keys = keys
	s.state.Load().conf.SetSessionTicketKeys(keys)
	s.mu.Unlock()
}

// stapleDue fetches OCSP staples that are due, on one goroutine at a time,
// so that a slow responder delays nothing else.
func (s *Server) stapleDue(now time.Time) {
	if !s.ocspBusy.CompareAndSwap(false, true) {
		return
	}
	var due []*fileCert
	for _, fc := range s.state.Load().certs.all {
		if len(fc.cert.Leaf.OCSPServer) > 0 && len(fc.cert.Certificate) > 1 && !now.Before(fc.ocspNext) {
			due = append(due, fc)
		}
	}
	if len(due) == 0 {
		s.ocspBusy.Store(false)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.ocspBusy.Store(false)
		for _, fc := range due {
			next, err := staple(s.ctx, s.opts.OCSPClient, fc, now)
			fc.ocspNext = next
			if err != nil {
				s.log.Debug("OCSP stapling failed; serving without a staple", "file", fc.certFile, "error", err)
			}
		}
	}()
}
