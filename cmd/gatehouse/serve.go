package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/internal/admin"
	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/listen"
	"github.com/gatehouse-proxy/gatehouse/internal/runtime"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// server is a running Gatehouse: the current runtime behind a Holder, the
// listeners, and how to reload.
type server struct {
	logger  *slog.Logger
	level   *slog.LevelVar
	holder  *runtime.Holder
	mgr     *listen.Manager
	reloads chan string // reasons; serialises reloads
	// reloadDone is closed when the reload loop has returned: after it no
	// Swap can happen, so shutdown sees the final runtime.
	reloadDone chan struct{}
	load       func() (*config.Config, error)

	// reloadMu serialises reloads from every source (the loop, the admin
	// API) and guards admin and closing.
	reloadMu sync.Mutex
	closing  bool         // shutdown began: no more reloads
	admin    *adminServer // nil when the admin API is off
	started  time.Time
}

// serve runs cfg until SIGTERM/SIGINT (or ctx ends). load, when non-nil,
// re-reads the configuration on SIGHUP and, with watchFile set, when that
// file changes. It returns the process exit code.
func serve(ctx context.Context, cfg *config.Config, load func() (*config.Config, error), watchFile string, stderr io.Writer) int {
	logger, level, err := newLogger(cfg.Log, stderr)
	if err != nil {
		printErr(stderr, err)
		return exitError
	}
	// go-redis logs through a package-level logger; route it into ours
	// (once, here in main) so no plain-text line lands among the JSON.
	redis.SetLogger(cluster.RedisLog{Logger: logger})
	rt, err := runtime.Build(cfg, nil, runtime.Options{Logger: logger})
	if err != nil {
		printErr(stderr, err)
		return exitError
	}
	s := &server{logger: logger, level: level, holder: runtime.NewHolder(rt), reloads: make(chan string, 1), reloadDone: make(chan struct{}), load: load, started: time.Now()}
	s.mgr = listen.NewManager(s.holder, logger)
	// TLS listeners get their ACME certificates and session ticket keys
	// through the holder, so a reload that changes either reaches open
	// listeners without reopening them.
	tickets := s.holder.TicketKeys()
	s.mgr.SetTLSOptions(func(lc config.Listener) tlsconf.Options {
		o := tlsconf.Options{
			Logger:     logger.With("listener", lc.Name),
			DataDir:    runtime.DataDir(s.holder.Current().Config()),
			TicketKeys: tickets,
		}
		// Every TLS listener asks the current runtime's ACME manager,
		// which is none until a reload adds tls.acme (then it applies
		// without reopening the listener).
		o.ACME = s.holder.ACMESource(lc.Name)
		return o
	})

	// Signal handlers and the file watcher go in before "ready": a SIGHUP
	// arriving right after it would otherwise kill the process (its default
	// action), and an edit made then would be missed.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if load != nil && watchFile != "" {
		if err := watchConfig(ctx, watchFile, s.requestReload, logger); err != nil {
			logger.Warn("not watching the config file; reload with SIGHUP", "error", err)
		}
	}

	if err := s.mgr.Apply(cfg); err != nil {
		logger.Error("cannot listen", "error", err)
		rt.Close()
		return exitError
	}
	for _, w := range rt.Warnings() {
		logger.Warn("config warning", "warning", w.Error())
	}
	go s.reloadLoop(ctx)
	// The admin API comes up before "ready" so that "ready" means all of
	// it; a port it cannot have stops the start like a listener's would.
	s.reloadMu.Lock()
	err = s.applyAdmin(cfg.Admin)
	s.reloadMu.Unlock()
	if err != nil {
		logger.Error("cannot start the admin API", "error", err)
		stop()
		s.shutdown()
		return exitError
	}
	logger.Info("ready", "generation", rt.Generation(), "routes", len(cfg.Routes))

	for {
		select {
		case <-hup:
			if load == nil {
				logger.Info("SIGHUP ignored: no configuration file to reload")
				continue
			}
			s.requestReload("SIGHUP")
		case <-ctx.Done():
			return s.shutdown()
		}
	}
}

// requestReload asks for a reload; requests arriving while one is pending
// fold into it.
func (s *server) requestReload(reason string) {
	select {
	case s.reloads <- reason:
	default:
	}
}

func (s *server) reloadLoop(ctx context.Context) {
	defer close(s.reloadDone)
	for {
		select {
		case <-ctx.Done():
			return
		case reason := <-s.reloads:
			_, _ = s.reloadNow(reason)
		}
	}
}

// reloadNow builds a new runtime beside the current one and swaps it in,
// and returns its generation. A broken file is refused with its positions
// logged and returned (a config.ErrorList), and the old configuration keeps
// serving. SIGHUP, the file watcher and the admin API all end here.
func (s *server) reloadNow(reason string) (uint64, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.load == nil {
		return 0, admin.ErrNoReload
	}
	if s.closing {
		return 0, errShuttingDown
	}
	fail := func(err error) (uint64, error) {
		s.logger.Error("config reload failed", "reason", reason, "error", err.Error())
		return 0, err
	}
	cfg, err := s.load()
	if err != nil {
		return fail(err)
	}
	cur := s.holder.Current()
	next, err := runtime.Build(cfg, cur, runtime.Options{Logger: s.logger})
	if err != nil {
		return fail(err)
	}
	if err := s.mgr.Apply(cfg); err != nil {
		next.Discard(cur)
		return fail(err)
	}
	s.level.Set(parseLevel(cfg.Log.Level))
	s.holder.Swap(next)
	for _, w := range next.Warnings() {
		s.logger.Warn("config warning", "warning", w.Error())
	}
	// Before "config reloaded", so that the line means all of it applies.
	if err := s.applyAdmin(cfg.Admin); err != nil {
		// The new configuration serves; only the admin API's move failed.
		s.logger.Error("admin API not moved; it stays where it was", "error", err)
	}
	s.logger.Info("config reloaded", "reason", reason, "generation", next.Generation())
	return next.Generation(), nil
}

// shutdown stops accepting, drains in-flight requests (streams and
// WebSockets included) up to server.shutdown_timeout, then exits 0.
func (s *server) shutdown() int {
	<-s.reloadDone // a reload under way finishes (or is refused) first
	timeout := s.holder.Current().Config().Server.ShutdownTimeout.D()
	s.logger.Info("shutting down", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The admin API first: a reload it is running finishes, and none
	// starts after, so the listeners and the runtime below are final.
	s.stopAdmin(ctx)
	if err := s.mgr.Shutdown(ctx); err != nil {
		s.logger.Warn("listeners did not drain in time", "error", err)
	}
	// Streams and WebSockets of the current runtime and of runtimes
	// replaced by earlier reloads: all are waited for.
	if err := s.holder.Close(ctx); err != nil {
		s.logger.Warn("streams still open at the shutdown deadline; closing them")
	}
	s.logger.Info("stopped")
	return exitOK
}
