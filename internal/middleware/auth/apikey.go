package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// APIKeyConfig is the api_key method's settings.
type APIKeyConfig struct {
	// Header carries the key. Default "X-Api-Key" when Query is not set
	// either; with only Query set, no header is read.
	Header string `yaml:"header"`
	// Query is a query parameter that carries the key (e.g. "api_key").
	// Default: none. Keys in URLs end up in logs and browser histories:
	// prefer the header.
	Query string `yaml:"query"`
	// Realm is named in the challenge. Default "api".
	Realm string `yaml:"realm"`
	// Keys maps a key's name (for logs and rate-limit keys; never secret)
	// to "sha256:<64 hex digits>", the SHA-256 of the key. At least one.
	Keys map[string]string `yaml:"keys"`
}

const (
	defaultAPIKeyHeader = "X-Api-Key"
	defaultAPIKeyRealm  = "api"
	maxAPIKey           = 1024
)

const apiKeyHint = `write each key as its hash: keys: { ci-bot: "sha256:<hex>" }, where <hex> is printed by: printf %s "$KEY" | sha256sum`

// apiKey checks a key against the hashes in the config.
type apiKey struct {
	header    string // canonical; "" for none
	query     string // "" for none
	challenge string
	keys      []namedHash
}

type namedHash struct {
	name string
	hash [sha256.Size]byte
}

func newAPIKey(cfg APIKeyConfig) (authenticator, string, error) {
	a := &apiKey{query: cfg.Query}
	switch {
	case cfg.Header != "":
		h, err := checkHeaderName(cfg.Header)
		if err != nil {
			return nil, "", fmt.Errorf("header: %w", err)
		}
		a.header = h
	case cfg.Query == "":
		a.header = defaultAPIKeyHeader
	}
	realm, err := checkRealm(cfg.Realm, defaultAPIKeyRealm)
	if err != nil {
		return nil, "", fmt.Errorf("realm: %w", err)
	}
	a.challenge = challenge("ApiKey", realm)
	if len(cfg.Keys) == 0 {
		return nil, apiKeyHint, errors.New("keys: at least one key is required")
	}
	names := make([]string, 0, len(cfg.Keys))
	for name := range cfg.Keys {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[[sha256.Size]byte]string{}
	for _, name := range names {
		if name == "" || !safeHeaderValue(name) {
			return nil, "", fmt.Errorf("keys: name %q must be non-empty and printable", name)
		}
		hexDigits, ok := strings.CutPrefix(cfg.Keys[name], "sha256:")
		var nh namedHash
		if n, err := hex.Decode(nh.hash[:], []byte(hexDigits)); !ok || err != nil || n != sha256.Size || len(hexDigits) != 2*sha256.Size {
			return nil, apiKeyHint, fmt.Errorf(`keys.%s: must be "sha256:" and 64 hex digits, the key's SHA-256`, name)
		}
		if other, dup := seen[nh.hash]; dup {
			return nil, "", fmt.Errorf("keys.%s: same key as %s", name, other)
		}
		seen[nh.hash] = name
		nh.name = name
		a.keys = append(a.keys, nh)
	}
	return a, "", nil
}

func (a *apiKey) authenticate(r *http.Request) (*Identity, http.Header, *refusal) {
	key, found, err := a.extract(r)
	if err != nil {
		return nil, nil, &refusal{status: http.StatusBadRequest, challenge: a.challenge, reason: "malformed API key", err: err}
	}
	if !found {
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: a.challenge, reason: "no API key"}
	}
	sum := sha256.Sum256([]byte(key))
	match := -1
	// Every configured hash is compared, in constant time each, so the
	// time taken tells nothing about which key was close.
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].hash[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: a.challenge, reason: "unknown API key"}
	}
	return &Identity{Method: MethodAPIKey, Name: a.keys[match].name}, nil, nil
}

// extract returns the key from the header, or else from the query. Errors
// (wrapping ErrMalformed): the header or parameter given twice, a key that
// is empty, too long, has control characters, or bad percent-encoding.
func (a *apiKey) extract(r *http.Request) (key string, found bool, err error) {
	if a.header != "" {
		switch vs := r.Header.Values(a.header); len(vs) {
		case 0:
		case 1:
			return checkKey(vs[0])
		default:
			return "", false, fmt.Errorf("%w: %d %s fields", ErrMalformed, len(vs), a.header)
		}
	}
	if a.query != "" {
		vs, err := queryValues(r.URL.RawQuery, a.query)
		if err != nil {
			return "", false, err
		}
		switch len(vs) {
		case 0:
		case 1:
			return checkKey(vs[0])
		default:
			return "", false, fmt.Errorf("%w: parameter given %d times", ErrMalformed, len(vs))
		}
	}
	return "", false, nil
}

func checkKey(k string) (string, bool, error) {
	k = strings.Trim(k, " \t")
	switch {
	case k == "":
		return "", false, fmt.Errorf("%w: empty key", ErrMalformed)
	case len(k) > maxAPIKey:
		return "", false, fmt.Errorf("%w: key of %d bytes", ErrMalformed, len(k))
	case !printable(k):
		return "", false, fmt.Errorf("%w: control character in key", ErrMalformed)
	}
	return k, true, nil
}

func (a *apiKey) strip(r *http.Request) *http.Request {
	if a.header != "" {
		r.Header.Del(a.header)
	}
	if a.query == "" || r.URL == nil {
		return r
	}
	q, removed := removeQueryParam(r.URL.RawQuery, a.query)
	if !removed {
		return r
	}
	// A shallow copy with its own URL, as http.StripPrefix does: the
	// caller's *url.URL is not ours to change.
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.RawQuery = q
	r2.RequestURI = ""
	if r.RequestURI != "" {
		r2.RequestURI = r2.URL.RequestURI()
	}
	return r2
}

func (a *apiKey) owned() []string { return nil }

// queryValues returns the decoded values of parameter name in a raw query
// (application/x-www-form-urlencoded pairs separated by "&"). A pair named
// name whose value has bad percent-encoding is an error wrapping
// ErrMalformed; a pair whose name has bad encoding is not ours (and
// removeQueryParam keeps it, by the same rule).
func queryValues(raw, name string) ([]string, error) {
	var out []string
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err != nil || dk != name {
			continue
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: query parameter value: %w", ErrMalformed, err)
		}
		out = append(out, dv)
	}
	return out, nil
}

// removeQueryParam returns raw without the pairs named name, the other
// pairs kept byte for byte in their order, and whether anything was
// removed.
func removeQueryParam(raw, name string) (string, bool) {
	var b strings.Builder
	removed := false
	for rest := raw; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		k, _, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			removed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	if !removed {
		return raw, false
	}
	return b.String(), true
}
