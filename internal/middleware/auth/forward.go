package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// ForwardConfig is the forward method's settings: every request is first
// sent, without its body, to an auth service (like nginx auth_request and
// Traefik forwardAuth).
type ForwardConfig struct {
	// URL of the auth service's check endpoint, http or https. Required.
	// It is asked with GET.
	URL string `yaml:"url"`
	// CopyRequestHeaders are the client's headers sent to the auth
	// service. Default: all of them except hop-by-hop and framing headers,
	// Host (sent as X-Forwarded-Host) and the client's own forwarding
	// headers (replaced by Gatehouse's).
	CopyRequestHeaders []string `yaml:"copy_request_headers"`
	// CopyResponseHeaders are headers of the auth service's 2xx answer set
	// on the upstream request (e.g. X-User-Id). The client's values under
	// these names are always removed, so they cannot be forged. Default:
	// none.
	CopyResponseHeaders []string `yaml:"copy_response_headers"`
	// IdentityFrom names the auth service's response header that holds the
	// identity's name (Identity.Name, logs, rate-limit keys). Default:
	// none.
	IdentityFrom string `yaml:"identity_from"`
	// Timeout bounds the whole exchange with the auth service. Default 5s.
	Timeout config.Duration `yaml:"timeout"`
}

const (
	defaultForwardTimeout = 5 * time.Second
	// maxRelayedBody bounds the auth service's denial body relayed to the
	// client; a longer one is replaced by Gatehouse's error body.
	maxRelayedBody = 64 << 10
	// maxDrain bounds what is read of a 2xx body to reuse the connection.
	maxDrain = 4 << 10
)

// errForward is wrapped by every failure of the auth service (logged with
// the request ID, never sent to the client).
var errForward = errors.New("auth service")

// relayedHeaders are the auth service's response headers relayed with a
// denial: the challenge (RFC 9110 section 11.6.1), a login redirect and its
// cookie, the body's type, a retry hint.
var relayedHeaders = []string{"Www-Authenticate", "Location", "Set-Cookie", "Content-Type", "Retry-After"}

// notCopied are request headers never sent to the auth service: framing
// and connection headers (RFC 9110 section 7.6.1; the check has no body),
// Host (the auth service's own), and forwarding headers, which Gatehouse
// sets itself from what it verified.
var notCopied = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Expect": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Upgrade": true, "Proxy-Authorization": true, "Forwarded": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
	"X-Forwarded-Method": true, "X-Forwarded-Uri": true, "X-Real-Ip": true,
}

// forward asks an auth service.
type forward struct {
	url          string
	copyReq      []string // canonical; nil means all but notCopied
	copyResp     []string // canonical
	identityFrom string   // canonical; "" for none
	timeout      time.Duration
	client       *http.Client
}

func newForward(cfg ForwardConfig, env middleware.Env) (authenticator, string, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return nil, `e.g. url: http://authsvc:9000/check`, fmt.Errorf("url: %q is not an http(s) URL", cfg.URL)
	}
	f := &forward{url: u.String(), timeout: cfg.Timeout.D()}
	if f.timeout == 0 {
		f.timeout = defaultForwardTimeout
	}
	if f.timeout < 0 {
		return nil, "", errors.New("timeout: must not be negative")
	}
	for _, name := range cfg.CopyRequestHeaders {
		cn, err := checkHeaderName(name)
		if err != nil {
			return nil, "", fmt.Errorf("copy_request_headers: %w", err)
		}
		if notCopied[cn] {
			return nil, "", fmt.Errorf("copy_request_headers: %s is never copied (Gatehouse sets the forwarding headers itself)", cn)
		}
		f.copyReq = append(f.copyReq, cn)
	}
	for _, name := range cfg.CopyResponseHeaders {
		cn, err := checkHeaderName(name)
		if err != nil {
			return nil, "", fmt.Errorf("copy_response_headers: %w", err)
		}
		f.copyResp = append(f.copyResp, cn)
	}
	if cfg.IdentityFrom != "" {
		if f.identityFrom, err = checkHeaderName(cfg.IdentityFrom); err != nil {
			return nil, "", fmt.Errorf("identity_from: %w", err)
		}
	}
	key := fmt.Sprintf("auth|forward|client|timeout=%s", f.timeout)
	v, err := env.Shared(key, func() (any, error) { return newForwardClient(f.timeout), nil })
	if err != nil {
		return nil, "", fmt.Errorf("client: %w", err)
	}
	fc, ok := v.(*forwardClient)
	if !ok {
		return nil, "", fmt.Errorf("client: shared state holds %T", v)
	}
	f.client = fc.Client
	return f, "", nil
}

// forwardClient is the HTTP client to auth services, kept across reloads
// (its pooled connections with it). Close releases idle connections.
type forwardClient struct{ *http.Client }

func newForwardClient(timeout time.Duration) *forwardClient {
	tr := &http.Transport{
		Proxy:                  nil, // never from the environment
		DialContext:            (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    timeout,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &forwardClient{&http.Client{
		Transport: tr,
		// A redirect is the auth service's answer for the client (a login
		// page), not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Close releases idle connections; the shared state calls it once no
// runtime uses the client.
func (c *forwardClient) Close() error {
	c.CloseIdleConnections()
	return nil
}

func (f *forward) authenticate(r *http.Request) (*Identity, http.Header, *refusal) {
	ctx, cancel := context.WithTimeout(r.Context(), f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, nil, f.failed(fmt.Errorf("%w: %w", errForward, err))
	}
	f.copyRequest(req.Header, r)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, f.failed(fmt.Errorf("%w: %w", errForward, err))
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		add := make(http.Header, len(f.copyResp))
		for _, name := range f.copyResp {
			vs := resp.Header.Values(name)
			for _, v := range vs {
				if !safeHeaderValue(v) {
					return nil, nil, f.failed(fmt.Errorf("%w: unsafe value in %s", errForward, name))
				}
			}
			if len(vs) > 0 {
				add[name] = vs
			}
		}
		id := &Identity{Method: MethodForward}
		if f.identityFrom != "" {
			if v := resp.Header.Get(f.identityFrom); safeHeaderValue(v) {
				id.Name = v
			}
		}
		return id, add, nil
	case s == 301 || s == 302 || s == 303 || s == 307 || s == 308 || (s >= 400 && s < 500):
		return nil, nil, f.relay(resp)
	default:
		return nil, nil, f.failed(fmt.Errorf("%w: status %d", errForward, s))
	}
}

// failed is the refusal for an auth service that could not answer: 503,
// because the client is not at fault and may retry; Gatehouse's body, so
// nothing of the failure (an address, Go error text) reaches the client.
func (f *forward) failed(err error) *refusal {
	return &refusal{status: http.StatusServiceUnavailable, reason: "auth service failed", err: err}
}

// relay returns the auth service's denial (3xx or 4xx) for the client: its
// status, the relayedHeaders, and its body when at most maxRelayedBody.
func (f *forward) relay(resp *http.Response) *refusal {
	ref := &refusal{status: resp.StatusCode, reason: "denied by auth service"}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayedBody+1))
	if err != nil || len(body) > maxRelayedBody {
		// Gatehouse's own body for that status, with the challenge.
		ref.challenge = resp.Header.Get("Www-Authenticate")
		if !safeHeaderValue(ref.challenge) {
			ref.challenge = ""
		}
		return ref
	}
	h := http.Header{"X-Content-Type-Options": {"nosniff"}}
	for _, name := range relayedHeaders {
		for _, v := range resp.Header.Values(name) {
			if safeHeaderValue(v) {
				h.Add(name, v)
			}
		}
	}
	ref.passThrough = &relayed{header: h, body: body}
	return ref
}

// copyRequest fills the auth service request's headers: the chosen client
// headers, then the forwarding headers describing the original request,
// from what Gatehouse verified (the client's own were not copied).
func (f *forward) copyRequest(out http.Header, r *http.Request) {
	if f.copyReq == nil {
		for name, vs := range r.Header {
			out[name] = vs
		}
		// Fields named in Connection are hop-by-hop too (RFC 9110
		// section 7.6.1): removed with Connection itself.
		protocol.RemoveHopByHop(out)
		for name := range notCopied {
			delete(out, name)
		}
	} else {
		for _, name := range f.copyReq {
			if vs := r.Header.Values(name); len(vs) > 0 {
				out[name] = vs
			}
		}
	}
	info := observe.InfoFrom(r.Context())
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	var client netip.Addr
	if info != nil {
		client = info.ClientIP
		if info.Scheme != "" {
			scheme = info.Scheme
		}
		if info.ID != "" {
			out.Set("X-Request-Id", info.ID)
		}
	}
	if !client.IsValid() {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			client = ap.Addr().Unmap()
		}
	}
	if client.IsValid() {
		out.Set("X-Forwarded-For", client.String())
	}
	out.Set("X-Forwarded-Method", r.Method)
	out.Set("X-Forwarded-Proto", scheme)
	out.Set("X-Forwarded-Host", r.Host)
	out.Set("X-Forwarded-Uri", r.URL.RequestURI())
}

func (f *forward) strip(r *http.Request) *http.Request {
	r.Header.Del("Authorization")
	return r
}

func (f *forward) owned() []string { return f.copyResp }
