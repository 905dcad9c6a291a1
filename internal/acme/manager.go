package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Challenge names in config.ACME.Challenges (RFC 8555 §8.3, RFC 8737 §3).
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// ErrConfig is wrapped by every error New returns for a configuration it
// cannot use.
var ErrConfig = errors.New("acme: invalid configuration")

// Options are the Manager's dependencies.
type Options struct {
	// Logger receives progress (Info), failures (Warn) and certmagic's own
	// detail (Debug). Nil discards.
	Logger *slog.Logger
	// Storage holds accounts, certificates, keys, challenge tokens and
	// locks. Instances that share it (cluster.CertStorage on one Redis)
	// share certificates, obtain each once, and answer each other's
	// challenges. Nil: a certmagic.FileStorage at cfg.Storage, or, when
	// that is empty, $XDG_DATA_HOME/gatehouse/acme (~/.local/share/...).
	Storage certmagic.Storage
	// Now is the clock of the on-demand rate limit (default time.Now).
	Now func() time.Time
	// RenewCheckInterval is how often certificates are checked for
	// renewal (default certmagic's, 10 minutes). Tests shorten it.
	RenewCheckInterval time.Duration
}

// Manager obtains, renews and serves ACME certificates for one
// config.ACME. Build it with New, start it with Manage, serve
// GetCertificate from TLS listeners and HTTPChallenge on plain ones, and
// end it with Stop. Safe for concurrent use.
type Manager struct {
	cfg      config.ACME
	logger   *slog.Logger
	cache    *certmagic.Cache
	static   *certmagic.Config // cfg.Domains: obtained at Manage, renewed by maintenance
	issuer   *certmagic.ACMEIssuer
	onDemand *certmagic.Config // nil unless cfg.OnDemand
	approver *approver
	domains  map[string]bool

	mu       sync.Mutex
	cancel   context.CancelFunc
	stopOnce sync.Once
}

// New validates cfg and builds a Manager; it does no network I/O and
// obtains nothing until Manage. Errors wrap ErrConfig.
func New(cfg config.ACME, opts Options) (*Manager, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{cfg: cfg, logger: logger, domains: map[string]bool{}}
	for _, d := range cfg.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d == "" || strings.Contains(d, "*") || !certmagic.SubjectQualifiesForCert(d) {
			return nil, fmt.Errorf("%w: domain %q cannot get a certificate over HTTP-01/TLS-ALPN-01 (wildcards need DNS-01)", ErrConfig, d)
		}
		m.domains[d] = true
	}
	httpOn, alpnOn, err := challenges(cfg.Challenges)
	if err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if cfg.CARoot != "" {
		pem, err := os.ReadFile(cfg.CARoot)
		if err != nil {
			return nil, fmt.Errorf("%w: ca_root: %w", ErrConfig, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: ca_root %s holds no PEM certificate", ErrConfig, cfg.CARoot)
		}
	}
	if cfg.OnDemand != nil {
		if m.approver, err = newApprover(cfg.OnDemand, now); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	storage := opts.Storage
	if storage == nil {
		dir := cfg.Storage
		if dir == "" {
			if dir, err = defaultStorageDir(); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
		storage = &certmagic.FileStorage{Path: dir}
	}
	ca := cfg.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	if cfg.RenewWindowRatio < 0 || cfg.RenewWindowRatio >= 1 {
		return nil, fmt.Errorf("%w: renew_window_ratio %v: want 0 < ratio < 1", ErrConfig, cfg.RenewWindowRatio)
	}

	zl := zapToSlog(logger)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   m.configFor,
		RenewCheckInterval: opts.RenewCheckInterval,
		Logger:             zl,
	})
	template := certmagic.ACMEIssuer{
		CA:                      ca,
		Email:                   cfg.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    !httpOn,
		DisableTLSALPNChallenge: !alpnOn,
		AltHTTPPort:             cfg.HTTPPort,
		AltTLSALPNPort:          cfg.TLSALPNPort,
		TrustedRoots:            roots,
		Logger:                  zl,
	}
	build := func(onDemand *certmagic.OnDemandConfig) (*certmagic.Config, *certmagic.ACMEIssuer) {
		c := certmagic.New(m.cache, certmagic.Config{
			RenewalWindowRatio: cfg.RenewWindowRatio,
			OnDemand:           onDemand,
			Storage:            storage,
			Logger:             zl,
			OnEvent:            m.onEvent(onDemand != nil),
			ShouldEmitFunc:     shouldEmit,
		})
		iss := certmagic.NewACMEIssuer(c, template)
		c.Issuers = []certmagic.Issuer{iss}
		return c, iss
	}
	m.static, m.issuer = build(nil)
	if m.approver != nil {
		m.onDemand, _ = build(&certmagic.OnDemandConfig{DecisionFunc: m.approver.approve})
	}
	return m, nil
}

func challenges(names []string) (httpOn, alpnOn bool, err error) {
	if len(names) == 0 {
		return true, true, nil
	}
	for _, n := range names {
		switch strings.ToLower(n) {
		case ChallengeHTTP01:
			httpOn = true
		case ChallengeTLSALPN01:
			alpnOn = true
		default:
			return false, false, fmt.Errorf("%w: challenge %q: want %s or %s", ErrConfig, n, ChallengeHTTP01, ChallengeTLSALPN01)
		}
	}
	return httpOn, alpnOn, nil
}

// defaultStorageDir is $XDG_DATA_HOME/gatehouse/acme, or
// ~/.local/share/gatehouse/acme.
func defaultStorageDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "gatehouse", "acme"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no acme.storage directory and no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "gatehouse", "acme"), nil
}

// configFor tells certmagic's cache which config maintains a certificate:
// the on-demand one for names outside cfg.Domains.
func (m *Manager) configFor(cert certmagic.Certificate) (*certmagic.Config, error) {
	if m.onDemand != nil && !slices.ContainsFunc(cert.Names, func(n string) bool { return m.domains[n] }) {
		return m.onDemand, nil
	}
	return m.static, nil
}

// Manage starts obtaining cfg.Domains (loaded from storage when present,
// obtained otherwise) and their renewal, in the background: it returns
// at once, serving must not wait for a CA. Progress and failures are
// logged; failed orders are retried with back-off until ctx ends or Stop.
// Calling it twice is an error.
func (m *Manager) Manage(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return errors.New("acme: Manage called twice")
	}
	ctx, m.cancel = context.WithCancel(ctx)
	if len(m.domains) == 0 {
		return nil
	}
	names := make([]string, 0, len(m.domains))
	for d := range m.domains {
		names = append(names, d)
	}
	slices.Sort(names)
	m.logger.Info("acme: managing certificates", "domains", names, "ca", m.issuer.CA)
	if err := m.static.ManageAsync(ctx, names); err != nil {
		return fmt.Errorf("acme: managing %v: %w", names, err)
	}
	return nil
}

// Stop ends obtaining, renewal and maintenance and waits for maintenance
// to finish. Certificates already in memory are still served. Idempotent.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() {
		m.mu.Lock()
		if m.cancel != nil {
			m.cancel()
		}
		m.mu.Unlock()
		m.cache.Stop()
	})
}

// GetCertificate serves tls.Config.GetCertificate: the TLS-ALPN-01
// challenge certificate for an "acme-tls/1" hello (RFC 8737 §3; also for
// challenges another instance started), a managed certificate for the SNI
// name, or, with on-demand enabled, one obtained now for an approved name.
// It returns (nil, nil) when it has nothing for the name (not managed, not
// approved), so the caller may try other sources, and an error when an
// attempt failed (challenge unknown, issuance failed or rate-limited).
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName != "" && len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol {
		return m.static.GetCertificate(hello)
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if m.onDemand == nil || name == "" || m.domains[name] {
		// A configured domain: obtained at Manage and renewed by
		// maintenance; (nil, nil) until it is there.
		if cert, err := m.static.GetCertificate(hello); err == nil && cert != nil && len(cert.Certificate) > 0 {
			return cert, nil
		}
		return nil, nil
	}
	// Any other name is on-demand's, also once obtained: certmagic
	// renews an on-demand certificate at handshake time, and only through
	// a config with OnDemand set (its maintenance skips those). Asking the
	// static config first would find the cached certificate and serve it
	// unrenewed until it expired.
	cert, err := m.onDemand.GetCertificate(hello)
	switch {
	case errors.Is(err, ErrNotApproved):
		m.logger.Debug("acme: on-demand name not approved", "server_name", hello.ServerName, "error", err)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("acme: on-demand certificate for %q: %w", hello.ServerName, err)
	case cert == nil || len(cert.Certificate) == 0:
		return nil, nil
	}
	return cert, nil
}

// HTTPChallenge wraps next with the HTTP-01 responder: requests for
// /.well-known/acme-challenge/TOKEN (RFC 8555 §8.3) for a challenge this
// or any instance sharing the storage started are answered; everything
// else goes to next. Mount it first on every plain-HTTP listener the CA
// reaches (port 80, or cfg.HTTPPort), before redirects and routing.
func (m *Manager) HTTPChallenge(next http.Handler) http.Handler {
	return m.issuer.HTTPChallengeHandler(next)
}

// shouldEmit limits certmagic's events to the ones onEvent acts on, so
// handshakes do not build event data for nothing.
func shouldEmit(event string) bool {
	switch event {
	case "cert_obtaining", "cert_obtained", "cert_failed":
		return true
	}
	return false
}

// onEvent logs progress and, for on-demand issuance, applies the rate
// limit: certmagic emits cert_obtaining after taking the lock and
// finding no certificate in storage, just before ordering, and an error
// aborts the order.
func (m *Manager) onEvent(onDemand bool) func(context.Context, string, map[string]any) error {
	return func(_ context.Context, event string, data map[string]any) error {
		name, _ := data["identifier"].(string)
		renewal, _ := data["renewal"].(bool)
		switch event {
		case "cert_obtaining":
			if onDemand && !renewal {
				if err := m.approver.take(name); err != nil {
					m.logger.Warn("acme: on-demand issuance refused", "domain", name, "error", err)
					return err
				}
			}
			m.logger.Info("acme: obtaining certificate", "domain", name, "renewal", renewal, "on_demand", onDemand)
		case "cert_obtained":
			m.logger.Info("acme: certificate obtained", "domain", name, "renewal", renewal, "issuer", data["issuer"])
		case "cert_failed":
			m.logger.Warn("acme: obtaining certificate failed; retrying with back-off", "domain", name, "renewal", renewal, "error", data["error"])
		}
		return nil
	}
}
