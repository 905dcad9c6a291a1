package acme

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// DefaultOnDemandRate bounds on-demand issuances when OnDemand.Rate is
// empty: 10 per minute, in bursts of up to 10.
const DefaultOnDemandRate = "10/1m"

// askTimeout bounds one call to the ask endpoint: it runs inside a TLS
// handshake, which the client will not wait on forever.
const askTimeout = 5 * time.Second

// Sentinel errors of on-demand decisions (wrapped; the handshake fails
// without telling the client why).
var (
	// ErrNotApproved: the name matches no allow entry and the ask endpoint
	// did not answer 2xx (or there is none).
	ErrNotApproved = errors.New("acme: name not approved for on-demand certificate")
	// ErrRateLimited: approved, but the issuance rate is exhausted.
	ErrRateLimited = errors.New("acme: on-demand issuance rate limit reached")
)

// approver decides which names may get a certificate on demand. Safe for
// concurrent use.
type approver struct {
	exact    map[string]bool
	suffixes []string // ".example.com" for "*.example.com"
	ask      *url.URL
	client   *http.Client
	limiter  *rate.Limiter
	askRate  *rate.Limiter // bounds calls to ask: unknown SNI names are free to invent
	now      func() time.Time
}

// Calls to the ask endpoint: a client can send any number of made-up SNI
// names, and each unknown one would be a request to the operator's
// service. Past this rate a name is simply not approved (the handshake
// gets no certificate); askConns bounds concurrent calls.
const (
	askPerSecond = 20
	askBurst     = 40
	askConns     = 8
)

func newApprover(cfg *config.OnDemand, now func() time.Time) (*approver, error) {
	a := &approver{exact: map[string]bool{}, now: now}
	for _, n := range cfg.Allow {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		switch {
		case strings.HasPrefix(n, "*.") && len(n) > 2 && !strings.Contains(n[2:], "*"):
			a.suffixes = append(a.suffixes, n[1:])
		case n != "" && !strings.Contains(n, "*"):
			a.exact[n] = true
		default:
			return nil, fmt.Errorf("acme: on_demand.allow entry %q: want a name or *.name", n)
		}
	}
	if cfg.Ask != "" {
		u, err := url.Parse(cfg.Ask)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("acme: on_demand.ask %q: want an http(s) URL", cfg.Ask)
		}
		a.ask = u
		a.askRate = rate.NewLimiter(askPerSecond, askBurst)
		a.client = &http.Client{
			Timeout:   askTimeout,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, MaxConnsPerHost: askConns, IdleConnTimeout: time.Minute},
			// A redirect is not an approval: only the URL configured decides.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if len(a.exact) == 0 && len(a.suffixes) == 0 && a.ask == nil {
		return nil, errors.New("acme: on_demand needs allow entries or an ask URL (otherwise any name could be issued)")
	}
	spec := cfg.Rate
	if spec == "" {
		spec = DefaultOnDemandRate
	}
	n, per, err := ParseRate(spec)
	if err != nil {
		return nil, err
	}
	a.limiter = rate.NewLimiter(rate.Every(per/time.Duration(n)), n)
	return a, nil
}

// ParseRate parses "N/DURATION" ("10/1m", "100/1h"; "10/m" means
// "10/1m"). N must be positive, DURATION a positive Go duration.
func ParseRate(s string) (int, time.Duration, error) {
	num, dur, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if !ok || err != nil || n < 1 {
		return 0, 0, fmt.Errorf("acme: rate %q: want N/DURATION, e.g. 10/1m", s)
	}
	dur = strings.TrimSpace(dur)
	d, err := time.ParseDuration(dur)
	if err != nil {
		d, err = time.ParseDuration("1" + dur)
	}
	if err != nil || d <= 0 || d/time.Duration(n) <= 0 {
		return 0, 0, fmt.Errorf("acme: rate %q: want N/DURATION, e.g. 10/1m", s)
	}
	return n, d, nil
}

// approve reports whether name may have a certificate: an allow entry
// matches it, or the ask endpoint answers 2xx to GET ask?domain=name.
// It does not consume the rate (certmagic asks also before loading a
// certificate another instance stored).
func (a *approver) approve(ctx context.Context, name string) error {
	name = strings.ToLower(name)
	if a.exact[name] {
		return nil
	}
	for _, s := range a.suffixes {
		// "*.example.com" covers exactly one more label, as a wildcard
		// certificate would (RFC 6125 §6.4.3).
		if rest, ok := strings.CutSuffix(name, s); ok && rest != "" && !strings.Contains(rest, ".") {
			return nil
		}
	}
	if a.ask == nil {
		return fmt.Errorf("%w: %s", ErrNotApproved, name)
	}
	if !a.askRate.AllowN(a.now(), 1) {
		return fmt.Errorf("%w: %s: too many names to ask about (over %d/s)", ErrNotApproved, name, askPerSecond)
	}
	u := *a.ask
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("acme: building ask request: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: ask endpoint: %w", ErrNotApproved, name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s: ask endpoint answered %d", ErrNotApproved, name, resp.StatusCode)
	}
	return nil
}

// take consumes one issuance from the rate, or fails with ErrRateLimited.
func (a *approver) take(name string) error {
	if !a.limiter.AllowN(a.now(), 1) {
		return fmt.Errorf("%w: %s", ErrRateLimited, name)
	}
	return nil
}
