package waf

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corazawaf/coraza/v3/types"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Name is the middleware's config name.
const Name = "waf"

func init() {
	middleware.Register(Name, New)
}

// firewall is one configured waf entry. It holds only immutable values and
// is shared by every request of the routes using the entry.
type firewall struct {
	eng      *engine
	cfg      Config
	blocking bool
	limit    int64 // request body inspection limit, bytes
	log      *slog.Logger
}

// New builds the middleware from its config entry. It validates the
// settings, renders them as SecLang and compiles the engine, or reuses the
// engine an earlier runtime compiled from the same settings (env.Shared,
// keyed by the rendered directives; compiling the full CRS takes about
// 0.2 s and 25 MB of heap). Errors are a config.ErrorList at the entry,
// including Coraza's own for bad expert directives.
func New(spec config.MiddlewareSpec, env middleware.Env) (middleware.Middleware, error) {
	cfg, err := decode(spec)
	if err != nil {
		return nil, err
	}
	if err := cfg.normalize(spec.Pos()); err != nil {
		return nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	text := directives(cfg)
	v, err := env.Shared(sharedKey(text), func() (any, error) {
		start := now()
		e, err := buildEngine(text)
		if err != nil {
			return nil, err
		}
		logger.Info("waf rules loaded", "rules", e.rules, "mode", cfg.Mode,
			"paranoia_level", cfg.ParanoiaLevel, "duration", now().Sub(start).String())
		return e, nil
	})
	if err != nil {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "check the rule syntax in directives and the rule IDs in exclusions",
			"waf: %v", err)}
	}
	eng, ok := v.(*engine)
	if !ok {
		return nil, config.ErrorList{config.Errorf(spec.Pos(), "", "waf: shared state under its key is a %T", v)}
	}
	f := &firewall{
		eng:      eng,
		cfg:      cfg,
		blocking: cfg.Mode == ModeBlocking,
		limit:    int64(cfg.RequestBody.Limit),
		log:      logger,
	}
	return f.wrap, nil
}

func (f *firewall) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.serve(w, r, next)
	})
}

// serve runs the request phases (line and headers, then the body prefix)
// before next sees the request, so a refused request never reaches the
// backend; then the response phases when response inspection is on.
func (f *firewall) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	info := observe.InfoFrom(r.Context())
	var tx types.Transaction
	if info != nil && info.ID != "" {
		// The transaction carries the request ID so Coraza's own logs and
		// ours can be joined with the access log.
		tx = f.eng.waf.NewTransactionWithID(info.ID)
	} else {
		tx = f.eng.waf.NewTransaction()
	}
	refused := 0
	defer func() {
		f.logMatches(tx, r, info, refused)
		tx.ProcessLogging()
		_ = tx.Close()
	}()

	if it := f.requestHeaders(tx, r, info); it != nil {
		refused = f.refuse(w, r, it)
		return
	}
	it, err := f.requestBody(tx, r)
	switch {
	case errors.Is(err, errOverLimit):
		refused = http.StatusRequestEntityTooLarge
		writeError(w, r, refused, true)
		return
	case errors.Is(err, protocol.ErrBodyTooLarge):
		// An earlier body_limit cut the body while we read it: the same
		// answer the proxy would give (RFC 9110 section 15.5.14).
		refused = http.StatusRequestEntityTooLarge
		writeError(w, r, refused, true)
		return
	case err != nil:
		// The client's body failed (reset, malformed chunking, timeout):
		// nothing can be forwarded; the client may not even read this.
		f.log.Debug("waf: reading request body failed", "request_id", requestID(info), "error", err)
		refused = http.StatusBadRequest
		writeError(w, r, refused, true)
		return
	case it != nil:
		refused = f.refuse(w, r, it)
		return
	}

	if !f.cfg.ResponseBody.Inspect || isUpgrade(r) {
		// Upgrades become a raw byte stream (RFC 9110 section 7.8): the
		// writer is never wrapped, so Hijack reaches the server untouched.
		next.ServeHTTP(w, r)
		return
	}
	rw := &responseWriter{w: w, r: r, tx: tx, limit: int(f.cfg.ResponseBody.Limit), blocking: f.blocking}
	next.ServeHTTP(rw, r)
	rw.finish()
	refused = rw.refused
}

// requestHeaders feeds the connection, request line and headers to the
// transaction and runs phase 1.
func (f *firewall) requestHeaders(tx types.Transaction, r *http.Request, info *observe.RequestInfo) *types.Interruption {
	host, portText, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	port, _ := strconv.Atoi(portText)
	if info != nil && info.ClientIP.IsValid() {
		// The real client after trusted-proxy handling, so REMOTE_ADDR rules
		// see the client, not the load balancer.
		host = info.ClientIP.String()
	}
	tx.ProcessConnection(host, port, "", 0)
	tx.ProcessURI(r.URL.RequestURI(), r.Method, r.Proto)
	for k, vs := range r.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	if r.Host != "" {
		// net/http moves Host out of the header map (RFC 9110 section 7.2).
		tx.AddRequestHeader("Host", r.Host)
		name := r.Host
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h
		}
		tx.SetServerName(name)
	}
	// net/http moves Transfer-Encoding out too; CRS rule 920171 and the
	// smuggling rules need it.
	for _, te := range r.TransferEncoding {
		tx.AddRequestHeader("Transfer-Encoding", te)
	}
	return tx.ProcessRequestHeaders()
}

// refuse answers a rule's interruption. Only blocking mode interrupts
// (Coraza never does in DetectionOnly). The status is the rule's when it is
// a client error (400 for unparseable bodies), else 403 — a "drop" or
// "redirect" action also becomes a 403: Gatehouse answers every refusal
// itself, with its own body.
func (f *firewall) refuse(w http.ResponseWriter, r *http.Request, it *types.Interruption) int {
	status := http.StatusForbidden
	if it.Status >= 400 && it.Status < 500 {
		status = it.Status
	}
	writeError(w, r, status, true)
	return status
}

// writeError writes Gatehouse's own error response: the short body with
// the request ID, nothing from the backend or the rules. With unread set,
// an HTTP/1 connection is closed after it, since the request body may not
// have been read (middleware.Refuse, RFC 9112 section 9.6).
func writeError(w http.ResponseWriter, r *http.Request, status int, unread bool) {
	h := w.Header()
	for k := range h {
		// A refused response must not carry the backend's headers.
		delete(h, k)
	}
	if unread {
		middleware.Refuse(w, r, status)
	} else {
		middleware.WriteError(w, r, status)
	}
}

func requestID(info *observe.RequestInfo) string {
	if info == nil {
		return ""
	}
	return info.ID
}

// isUpgrade reports a request asking to switch protocols (RFC 9110 section
// 7.8) or an HTTP/2 extended CONNECT (RFC 8441), whose exchange is a
// bidirectional stream after the headers.
func isUpgrade(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return true
	}
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
