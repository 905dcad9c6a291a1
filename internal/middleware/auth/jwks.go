package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// maxJWKSBody bounds a JWKS response; real ones are a few KiB.
	maxJWKSBody = 1 << 20
	// noKeysRetry is the least time between fetches while no key set was
	// ever loaded: short, so the service recovers quickly once the IdP
	// answers, but not a fetch per request.
	noKeysRetry = time.Second
)

// errJWKSFetch is wrapped by a failed JWKS fetch (logged, never sent).
var errJWKSFetch = errors.New("fetching the JWKS")

// jwksSettings identify a cache: two routes (or two generations of the
// runtime) with the same settings share it.
type jwksSettings struct {
	url                          string
	refresh, minRefresh, timeout time.Duration
}

func (s jwksSettings) key() string {
	return fmt.Sprintf("auth|jwks|url=%s|refresh=%s|min_refresh=%s|timeout=%s", s.url, s.refresh, s.minRefresh, s.timeout)
}

// jwksCache holds the keys of one JWKS URL. Lookups never block on the
// network except when no key set was ever loaded, or when a token names a
// key ID the set lacks (a rotation) and a refresh is allowed: then the
// lookup waits for the one fetch in flight, bounded by the timeout and the
// request's context. Keys older than the refresh interval are refreshed in
// the background; a failed fetch keeps the old keys. Fetches are single
// flight and at least minRefresh apart. Safe for concurrent use; Close
// stops a fetch in flight.
type jwksCache struct {
	settings jwksSettings
	client   *http.Client
	now      func() time.Time
	logger   *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc

	set atomic.Pointer[jwkSet]

	mu          sync.Mutex
	inflight    chan struct{} // closed when the fetch in flight ends; nil if none
	attempted   bool
	lastAttempt time.Time
}

// jwkSet is one successfully fetched key set; immutable.
type jwkSet struct {
	keys    []jwk
	fetched time.Time
}

func newJWKSCache(s jwksSettings, now func() time.Time, logger *slog.Logger) *jwksCache {
	tr := &http.Transport{
		Proxy:                  nil, // never from the environment: key material must come from where the config says
		DialContext:            (&net.Dialer{Timeout: s.timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    s.timeout,
		ResponseHeaderTimeout:  s.timeout,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &jwksCache{
		settings: s,
		client: &http.Client{
			Transport: tr,
			Timeout:   s.timeout,
			// The JWKS URL is the configured one; a redirect elsewhere is
			// not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: now, logger: logger, ctx: ctx, cancel: cancel,
	}
}

// Close stops a fetch in flight and releases idle connections. The shared
// state calls it once no runtime uses the cache.
func (c *jwksCache) Close() error {
	c.cancel()
	c.client.CloseIdleConnections()
	return nil
}

// warm starts the first fetch in the background, so that keys are usually
// there before the first token arrives.
func (c *jwksCache) warm() { c.startFetch(noKeysRetry) }

func (c *jwksCache) keys(ctx context.Context, kid, alg string) ([]jwt.VerificationKey, error) {
	set := c.set.Load()
	switch {
	case set == nil:
		if done := c.startFetch(noKeysRetry); done != nil {
			wait(ctx, done)
		}
		if set = c.set.Load(); set == nil {
			return nil, fmt.Errorf("%w: %s not loaded yet", ErrNoKeys, c.settings.url)
		}
	case c.now().Sub(set.fetched) >= c.settings.refresh:
		c.startFetch(c.settings.minRefresh) // background; the current keys serve meanwhile
	}
	found := set.match(kid, alg)
	if len(found) == 0 && kid != "" && !set.hasKid(kid) {
		// An unknown key ID is how a rotation shows: the IdP signs with a
		// key published after our last fetch. Refresh, at most once per
		// minRefresh, so made-up IDs cannot turn into a fetch per request.
		if done := c.startFetch(c.settings.minRefresh); done != nil {
			wait(ctx, done)
			found = c.set.Load().match(kid, alg)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: kid %q alg %s", errUnknownKey, kid, alg)
	}
	return found, nil
}

func wait(ctx context.Context, done <-chan struct{}) {
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// startFetch starts a fetch unless one is in flight (its channel is
// returned) or the last attempt was less than minGap ago (nil is
// returned).
func (c *jwksCache) startFetch(minGap time.Duration) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight
	}
	now := c.now()
	if c.attempted && now.Sub(c.lastAttempt) < minGap {
		return nil
	}
	if c.ctx.Err() != nil {
		return nil
	}
	c.attempted, c.lastAttempt = true, now
	done := make(chan struct{})
	c.inflight = done
	go func() {
		keys, skipped, err := c.fetch()
		if err != nil {
			old := "none"
			if set := c.set.Load(); set != nil {
				old = "kept"
			}
			c.logger.Warn("auth: JWKS refresh failed", "jwks_url", c.settings.url, "previous_keys", old, "error", err)
		} else {
			c.set.Store(&jwkSet{keys: keys, fetched: c.now()})
			c.logger.Debug("auth: JWKS loaded", "jwks_url", c.settings.url, "keys", len(keys), "skipped", skipped)
		}
		c.mu.Lock()
		c.inflight = nil
		c.mu.Unlock()
		close(done)
	}()
	return done
}

func (c *jwksCache) fetch() ([]jwk, int, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.settings.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.settings.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errJWKSFetch, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errJWKSFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: status %d", errJWKSFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading: %w", errJWKSFetch, err)
	}
	if len(body) > maxJWKSBody {
		return nil, 0, fmt.Errorf("%w: larger than %d bytes", errJWKSFetch, maxJWKSBody)
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errJWKSFetch, err)
	}
	return keys, skipped, nil
}

// match returns the keys that may verify a token with kid and alg: the
// ones with that kid, or every fitting key for a token without one.
func (s *jwkSet) match(kid, alg string) []jwt.VerificationKey {
	var out []jwt.VerificationKey
	for _, k := range s.keys {
		if (kid == "" || k.kid == kid) && k.fits(alg) {
			out = append(out, k.key)
		}
	}
	return out
}

func (s *jwkSet) hasKid(kid string) bool {
	for _, k := range s.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}
