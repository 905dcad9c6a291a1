package tlsconf

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// CertSource supplies certificates that are not in files, by SNI: ACME
// (internal/acme, on certmagic). GetCertificate returns (nil, nil) when it
// has nothing for the name, so that the next source is tried; it is also
// handed the TLS-ALPN-01 challenge handshakes (RFC 8737 section 3: hellos
// offering only "acme-tls/1"). Called concurrently from handshakes; must
// not block for long on names it does not manage.
type CertSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// ALPNACME is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const ALPNACME = "acme-tls/1"

// Defaults of Options.
const (
	DefaultPollInterval  = 5 * time.Second
	DefaultTicketRefresh = time.Minute
)

// Options are a Server's dependencies. The zero value works: it logs
// nowhere, uses the real clock, keeps the internal CA under
// DefaultDataDir()/ca, has no ACME and rotates session ticket keys locally.
type Options struct {
	// Logger receives reload, expiry and stapling events. Nil: discard.
	Logger *slog.Logger
	// Now is the clock for validity checks, rotation and issuance. Nil:
	// time.Now.
	Now func() time.Time
	// DataDir is the state directory; the internal CA lives in
	// DataDir/ca unless tls.internal.dir says otherwise. Empty:
	// DefaultDataDir().
	DataDir string
	// ACME supplies certificates for names no file covers. Nil: no ACME;
	// "acme-tls/1" is offered in ALPN only when it is set.
	ACME CertSource
	// TicketKeys supplies the session ticket keys. Nil: LocalTicketKeys on
	// Now.
	TicketKeys TicketKeySource
	// PollInterval is how often the certificate files are checked for a
	// change (mtime and size). Default DefaultPollInterval.
	PollInterval time.Duration
	// TicketRefresh is how often TicketKeys is asked for the current keys.
	// Default DefaultTicketRefresh.
	TicketRefresh time.Duration
	// OCSPClient fetches OCSP responses. Nil: a client with a 10 s timeout.
	OCSPClient *http.Client
	// DisableOCSP turns stapling off (tests, offline machines).
	DisableOCSP bool
}

// DefaultDataDir returns the state directory used when Options.DataDir is
// empty: the user's configuration directory + "/gatehouse" (for example
// ~/.config/gatehouse), writable without root.
func DefaultDataDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: %w", err)
	}
	return filepath.Join(d, "gatehouse"), nil
}

// Server holds one TLS listener's certificates and settings. Its
// TLSConfig is fixed for the listener's life; Update and the file watcher
// swap what that config finds per handshake. Safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	base *tls.Config

	state atomic.Pointer[state]

	mu     sync.Mutex // serialises Update and watcher reloads; guards the fields below
	stamps map[string]fileStamp
	keys   [][32]byte             // the session ticket keys in use (refreshTickets)
	cas    map[string]*internalCA // by directory, kept across reloads

	tickets     TicketKeySource
	nextTickets time.Time // run goroutine only (and New)
	ocspBusy    atomic.Bool

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// state is what one configuration compiles to. Immutable.
type state struct {
	cfg      config.ListenerTLS
	certs    *certSet
	conf     *tls.Config // returned by GetConfigForClient
	ca       *internalCA // nil without tls.internal
	internal []string    // names the internal CA may issue for
}

// New loads cfg (every file must be readable and valid: see loadCertFiles)
// and starts the background work (file polling, ticket rotation, OCSP),
// which Close stops.
func New(cfg config.ListenerTLS, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.TicketRefresh <= 0 {
		opts.TicketRefresh = DefaultTicketRefresh
	}
	if opts.TicketKeys == nil {
		opts.TicketKeys = NewLocalTicketKeys(opts.Now)
	}
	opts.OCSPClient = ocspClient(opts.OCSPClient)
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now, tickets: opts.TicketKeys, cas: map[string]*internalCA{}}
	s.base = s.newConfig(cfg)
	s.base.GetConfigForClient = s.configForClient
	st, stamps, err := s.build(cfg)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	s.stamps = stamps
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.refreshTickets()
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// TLSConfig returns the listener's config. It is the same object for the
// Server's life (session ticket keys are set on it); callers may wrap it
// (http3.ConfigureTLSConfig) but must not modify it.
func (s *Server) TLSConfig() *tls.Config { return s.base }

// Update applies a reloaded configuration: files are read again, client
// auth and versions rebuilt. On an error nothing changes (the previous
// certificates keep being served) and the error names the file. Open
// connections are never touched.
func (s *Server) Update(cfg config.ListenerTLS) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, stamps, err := s.build(cfg)
	if err != nil {
		return fmt.Errorf("%w (still serving the previous certificates)", err)
	}
	s.install(st)
	s.stamps = stamps
	return nil
}

// InternalRoot returns the path of the internal CA's root certificate, or
// "" when this listener does not use the internal CA.
func (s *Server) InternalRoot() string {
	if st := s.state.Load(); st.ca != nil {
		return filepath.Join(st.ca.dir, RootCertFile)
	}
	return ""
}

// Close stops the background work and waits for it. Handshakes keep
// working with what is loaded. Idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
}

// build compiles cfg. The caller holds s.mu (or is New).
func (s *Server) build(cfg config.ListenerTLS) (*state, map[string]fileStamp, error) {
	pairs := certPairs(cfg)
	if len(pairs) == 0 && cfg.ACME == nil && cfg.Internal == nil {
		return nil, nil, ErrNoSource
	}
	// Stamps first: a file written while it is being read is seen as
	// changed at the next poll and read again.
	stamps := statFiles(fileNames(cfg))
	certs, err := loadCertSet(pairs, s.now(), s.log)
	if err != nil {
		return nil, nil, err
	}
	st := &state{cfg: cfg, certs: certs, conf: s.newConfig(cfg)}
	if st.conf.ClientAuth, st.conf.ClientCAs, err = clientAuth(cfg.ClientAuth); err != nil {
		return nil, nil, err
	}
	if cfg.Internal != nil {
		if st.ca, err = s.internalCA(cfg.Internal.Dir); err != nil {
			return nil, nil, err
		}
		st.internal = cfg.Internal.Names
		if len(st.internal) == 0 {
			st.internal = DefaultInternalNames
		}
	}
	return st, stamps, nil
}

// internalCA returns the CA kept in dir (default DataDir/ca), loading or
// creating it once per directory.
func (s *Server) internalCA(dir string) (*internalCA, error) {
	if dir == "" {
		data := s.opts.DataDir
		if data == "" {
			var err error
			if data, err = DefaultDataDir(); err != nil {
				return nil, fmt.Errorf("internal CA: %w; set tls.internal.dir", err)
			}
		}
		dir = filepath.Join(data, "ca")
	}
	if ca := s.cas[dir]; ca != nil {
		return ca, nil
	}
	ca, err := loadOrCreateCA(dir, s.now)
	if err != nil {
		return nil, err
	}
	s.log.Info("internal CA ready; trust its root to avoid browser warnings", "root", filepath.Join(dir, RootCertFile))
	s.cas[dir] = ca
	return ca, nil
}

// install makes st the current state, carrying the session ticket keys in
// use (see refreshTickets). s.mu is held.
func (s *Server) install(st *state) {
	if s.keys != nil {
		st.conf.SetSessionTicketKeys(s.keys)
	}
	s.state.Store(st)
}

// configForClient hands each handshake the current configuration.
func (s *Server) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return s.state.Load().conf, nil
}

// getCertificate chooses the certificate for a hello: files by exact name,
// then by wildcard, then ACME, then the internal CA (allowed names only),
// then the default (first) file certificate.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	st := s.state.Load()
	acme := s.opts.ACME
	if acme != nil && len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ALPNACME {
		return acme.GetCertificate(hello)
	}
	name := normalizeName(hello.ServerName)
	if name == "" {
		// No SNI: clients send none for an IP address (RFC 6066 section
		// 3), so look the certificate up by the address dialled.
		name = localIP(hello)
	}
	if fc := st.certs.lookup(name); fc != nil {
		return fc.get(), nil
	}
	var acmeErr error
	if acme != nil {
		c, err := acme.GetCertificate(hello)
		if err == nil && c != nil {
			return c, nil
		}
		acmeErr = err
	}
	if st.ca != nil && nameAllowed(st.internal, name) {
		return st.ca.leaf(name)
	}
	if st.certs.def != nil {
		return st.certs.def.get(), nil
	}
	if acmeErr != nil {
		return nil, acmeErr
	}
	return nil, fmt.Errorf("%w: %q", ErrNoCertificate, hello.ServerName)
}

// localIP returns the address the client connected to, "" if unknown.
func localIP(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil {
		return ""
	}
	ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
	if err != nil {
		return ""
	}
	return ap.Addr().Unmap().WithZone("").String()
}
