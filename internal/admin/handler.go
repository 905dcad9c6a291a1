package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/runtime"
)

// ErrOptions is returned by New for incomplete Options.
var ErrOptions = errors.New("admin: invalid options")

// ErrNoReload is what Options.Reload returns (wrapped) when the running
// instance has no configuration file to reload (quick mode); the API
// answers 409.
var ErrNoReload = errors.New("admin: no configuration file to reload")

// Options are what the admin API needs from the running instance.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer TOKEN"
	// (config admin.token); SetToken changes it on a reload.
	Token string
	// Holder serves the current runtime: its configuration (admin token,
	// routes, upstreams), generation, pools and caches. Required.
	Holder *runtime.Holder
	// Reload performs a reload synchronously, as SIGHUP does, and returns
	// the new generation, or the reason it was refused (a config.ErrorList
	// for a broken file; ErrNoReload when there is no file). Required.
	Reload func(reason string) (generation uint64, err error)
	// Listeners returns the bound address of each listener by name. May be
	// nil (status then lists none).
	Listeners func() map[string]net.Addr
	// Version is reported by /status.
	Version string
	// Started is when the process started, for the uptime.
	Started time.Time
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger logs what the API did (reloads, purges). Default: discard.
	Logger *slog.Logger
}

// Handler is the admin API as an http.Handler. Safe for concurrent use.
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	token atomic.Pointer[[sha256.Size]byte] // nil: no token required
}

// maxBody bounds request bodies: every request is a small JSON object.
const maxBody = 64 << 10

// New returns the admin API over opts; it fails with ErrOptions when
// Holder or Reload is missing.
func New(opts Options) (*Handler, error) {
	if opts.Holder == nil || opts.Reload == nil {
		return nil, ErrOptions
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	h.SetToken(opts.Token)
	h.mux.HandleFunc("/reload", h.only(http.MethodPost, h.reload))
	h.mux.HandleFunc("/cache/purge", h.only(http.MethodPost, h.purge))
	h.mux.HandleFunc("/status", h.only(http.MethodGet, h.status))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint; see docs/admin.md", nil)
	})
	return h, nil
}

// ServeHTTP checks the token, then dispatches to the endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		// RFC 6750 section 3: a missing or wrong bearer token is 401
		// with a WWW-Authenticate challenge.
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong admin token", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	h.mux.ServeHTTP(w, r)
}

// SetToken makes token the one required from now on ("" requires none).
// Safe to call while requests are served.
func (h *Handler) SetToken(token string) {
	if token == "" {
		h.token.Store(nil)
		return
	}
	sum := sha256.Sum256([]byte(token))
	h.token.Store(&sum)
}

// authorized compares the bearer token with the configured one in
// constant time (both hashed first, so not even the length leaks).
// Without a token (loopback only, by validation) anyone who can connect
// is authorized.
func (h *Handler) authorized(r *http.Request) bool {
	want := h.token.Load()
	if want == nil {
		return true
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	// RFC 6750 section 2.1; the scheme is case-insensitive (RFC 9110
	// section 11.1).
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// only wraps an endpoint that accepts one method (RFC 9110 section
// 15.5.6: 405 carries Allow).
func (h *Handler) only(method string, f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "use "+method, nil)
			return
		}
		f(w, r)
	}
}
