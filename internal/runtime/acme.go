package runtime

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/caddyserver/certmagic"

	"github.com/gatehouse-proxy/gatehouse/internal/acme"
	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// acmeChallengePrefix is the HTTP-01 challenge path (RFC 8555 §8.3). The
// runtime answers it before routing, on every plain listener and both
// engines, so no route (a catch-all proxy, a redirect to https) can hide a
// challenge from the CA.
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// acmeManager lets the state store stop a Manager (io.Closer) once no
// runtime uses its configuration any more.
type acmeManager struct{ m *acme.Manager }

func (a *acmeManager) Close() error {
	a.m.Stop()
	return nil
}

// DataDir returns the configured server.data_dir, or the default.
func DataDir(cfg *config.Config) string {
	if cfg.Server.DataDir != "" {
		return cfg.Server.DataDir
	}
	d, err := tlsconf.DefaultDataDir()
	if err != nil {
		return filepath.Join(".", ".gatehouse")
	}
	return d
}

// buildACME prepares one ACME manager per distinct tls.acme block. A
// manager is shared state: kept across reloads while its settings (and the
// storage they use) are unchanged, so certificates are not obtained again
// and renewal goes on. With cluster.redis the certificates, locks and
// challenge tokens live in Redis (cluster.CertStorage): N instances obtain
// each certificate once and answer each other's challenges. A dry run
// (validate, explain) only checks that a manager can be built.
func (rt *Runtime) buildACME(view *stateView, clu *cluster.Cluster, opts Options) config.ErrorList {
	var errs config.ErrorList
	var handlers []*acme.Manager
	for i, lc := range rt.cfg.Listeners {
		if lc.TLS == nil || lc.TLS.ACME == nil {
			continue
		}
		pos := rt.cfg.Pos(config.IndexPath("$.listeners", i) + ".tls.acme")
		ac := *lc.TLS.ACME
		shared := rt.cfg.Cluster.Redis != nil
		if ac.Storage == "" && !shared {
			ac.Storage = filepath.Join(DataDir(rt.cfg), "acme")
		}
		if opts.DryRun {
			if _, err := acme.New(ac, acme.Options{Logger: opts.Logger}); err != nil {
				errs = append(errs, config.Errorf(pos, "see docs/tls.md#acme", "listener %q: %v", lc.Name, err))
			}
			continue
		}
		key, _ := json.Marshal(ac)
		skey := "acme|" + string(key)
		if shared {
			// The manager's storage uses the cluster's client: a new
			// client (other address, credentials, timeout) means a new
			// manager, or it would keep the retired, closed one.
			skey += "|" + clusterKey(rt.cfg)
		}
		v, err := view.Shared(skey, func() (any, error) {
			var storage certmagic.Storage
			if shared {
				st, err := clu.CertStorage(cluster.CertStorageOptions{Logger: opts.Logger, Now: opts.Now})
				if err != nil {
					return nil, fmt.Errorf("certificate storage in Redis: %w", err)
				}
				storage = st
			}
			m, err := acme.New(ac, acme.Options{Logger: opts.Logger.With("listener", lc.Name), Storage: storage, Now: opts.Now})
			if err != nil {
				return nil, err
			}
			if err := m.Manage(context.Background()); err != nil {
				m.Stop()
				return nil, err
			}
			return &acmeManager{m: m}, nil
		})
		if err != nil {
			errs = append(errs, config.Errorf(pos, "see docs/tls.md#acme", "listener %q: %v", lc.Name, err))
			continue
		}
		m := v.(*acmeManager).m
		if rt.acme == nil {
			rt.acme = make(map[string]*acme.Manager)
		}
		rt.acme[lc.Name] = m
		handlers = append(handlers, m)
	}
	if len(handlers) > 0 {
		// Each manager answers the tokens of its own storage; chained, an
		// unknown token ends in 404 rather than in a route.
		var h http.Handler = http.NotFoundHandler()
		for _, m := range handlers {
			h = m.HTTPChallenge(h)
		}
		rt.challenge = h
	}
	return errs
}

// isChallenge reports whether path is an ACME HTTP-01 challenge the
// runtime must answer itself.
func (rt *Runtime) isChallenge(path string) bool {
	return rt.challenge != nil && strings.HasPrefix(path, acmeChallengePrefix)
}

// ACMESource returns the certificate source of listener for tlsconf: it
// asks the ACME manager of the runtime current at each handshake, so a
// reload that changes the listener's acme settings takes effect without
// reopening the listener.
func (h *Holder) ACMESource(listener string) tlsconf.CertSource {
	return acmeSource{h: h, listener: listener}
}

type acmeSource struct {
	h        *Holder
	listener string
}

func (s acmeSource) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	m := s.h.Current().acme[s.listener]
	if m == nil {
		return nil, nil
	}
	return m.GetCertificate(hello)
}

// TicketKeys returns the session ticket key source for TLS listeners:
// the keys shared through Redis by the current runtime's cluster, so that a
// client resumes its session on any instance; without cluster.redis (or
// after a reload removed it), keys local to this process.
func (h *Holder) TicketKeys() tlsconf.TicketKeySource {
	return &ticketSource{h: h, local: tlsconf.NewLocalTicketKeys(nil)}
}

type ticketSource struct {
	h     *Holder
	local *tlsconf.LocalTicketKeys
}

func (s *ticketSource) TicketKeys(ctx context.Context) ([][32]byte, error) {
	if tk := s.h.Current().tickets; tk != nil {
		return tk.TicketKeys(ctx)
	}
	return s.local.TicketKeys(ctx)
}

// buildTickets prepares the shared ticket keys when a cluster is
// configured and some listener terminates TLS.
func (rt *Runtime) buildTickets(clu *cluster.Cluster, opts Options) error {
	if opts.DryRun || rt.cfg.Cluster.Redis == nil || clu == nil {
		return nil
	}
	hasTLS := false
	for _, lc := range rt.cfg.Listeners {
		hasTLS = hasTLS || lc.TLS != nil
	}
	if !hasTLS {
		return nil
	}
	tk, err := clu.TicketKeys(cluster.TicketKeysOptions{Now: opts.Now})
	if err != nil {
		return fmt.Errorf("shared session ticket keys: %w", err)
	}
	rt.tickets = tk
	return nil
}
