package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// BasicConfig is the basic method's settings (HTTP Basic, RFC 7617).
type BasicConfig struct {
	// Realm is shown by browsers in the login prompt. Default "restricted".
	Realm string `yaml:"realm"`
	// Users maps a user name to the bcrypt hash of its password
	// ("$2y$10$..." as printed by `htpasswd -nbB`). Plain passwords are a
	// configuration error. At least one user.
	Users map[string]string `yaml:"users"`
}

const (
	defaultRealm = "restricted"
	// maxBasicCredentials bounds the base64 credentials decoded per
	// request (user and password of a few hundred bytes fit easily).
	maxBasicCredentials = 4096
	// verifiedCacheSize bounds the cache of verified credentials.
	verifiedCacheSize = 4096
)

// Sentinel errors of the credential parsers.
var (
	// ErrMalformed is wrapped by every parse failure of credentials.
	ErrMalformed = errors.New("malformed credentials")
	// errNotBcrypt is returned for a password that is not a bcrypt hash.
	errNotBcrypt = errors.New("is not a bcrypt hash")
)

const bcryptHint = `store bcrypt hashes, never passwords: "htpasswd -nbB -C 10 alice 'the password'" prints alice:$2y$10$..., put the part after the colon in users`

// basic checks HTTP Basic credentials against bcrypt hashes.
type basic struct {
	challenge string
	users     map[string][]byte
	// dummy is compared against for an unknown user, so that a request
	// for an unknown user costs the same bcrypt work as one for a known
	// user with a wrong password: timing does not tell which users exist.
	dummy []byte
	cache *verifiedCache
}

func newBasic(cfg BasicConfig) (authenticator, string, error) {
	realm, err := checkRealm(cfg.Realm, defaultRealm)
	if err != nil {
		return nil, "", fmt.Errorf("realm: %w", err)
	}
	if len(cfg.Users) == 0 {
		return nil, `list users: { alice: "$2y$10$..." }`, errors.New("users: at least one user is required")
	}
	b := &basic{challenge: challenge("Basic", realm, "charset", "UTF-8"), users: make(map[string][]byte, len(cfg.Users))}
	names := make([]string, 0, len(cfg.Users))
	for name := range cfg.Users {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic first error
	maxCost := bcrypt.MinCost
	for _, name := range names {
		if name == "" || strings.ContainsRune(name, ':') || !printable(name) {
			return nil, "", fmt.Errorf("users: user name %q must be non-empty, printable and without ':' (RFC 7617 section 2)", name)
		}
		hash := []byte(cfg.Users[name])
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			return nil, bcryptHint, fmt.Errorf("users.%s: the password %w", name, errNotBcrypt)
		}
		maxCost = max(maxCost, cost)
		b.users[name] = hash
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	dummy, err := bcrypt.GenerateFromPassword(secret[:], maxCost)
	if err != nil {
		return nil, "", fmt.Errorf("preparing the comparison hash: %w", err)
	}
	b.dummy = dummy
	b.cache = newVerifiedCache(verifiedCacheSize)
	return b, "", nil
}

func (b *basic) authenticate(r *http.Request) (*Identity, http.Header, *refusal) {
	value, present, ok := authorization(r)
	if !ok {
		return nil, nil, &refusal{status: http.StatusBadRequest, challenge: b.challenge, reason: "several Authorization fields"}
	}
	if !present {
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: b.challenge, reason: "no credentials"}
	}
	creds, isBasic := cutScheme(value, "Basic")
	if !isBasic {
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: b.challenge, reason: "not Basic credentials"}
	}
	user, pass, err := parseBasic(creds)
	if err != nil {
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: b.challenge, reason: "malformed Basic credentials", err: err}
	}
	hash, known := b.users[user]
	if known && b.cache.has(user, pass, hash) {
		return &Identity{Method: MethodBasic, Name: user}, nil, nil
	}
	if !known {
		_ = bcrypt.CompareHashAndPassword(b.dummy, []byte(pass))
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: b.challenge, reason: "wrong user or password"}
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return nil, nil, &refusal{status: http.StatusUnauthorized, challenge: b.challenge, reason: "wrong user or password"}
	}
	b.cache.add(user, pass, hash)
	return &Identity{Method: MethodBasic, Name: user}, nil, nil
}

func (b *basic) strip(r *http.Request) *http.Request {
	r.Header.Del("Authorization")
	return r
}

func (b *basic) owned() []string { return nil }

// parseBasic decodes the credentials of "Basic <creds>" (RFC 7617 section
// 2): base64 of "user:password", split at the first colon. Errors wrap
// ErrMalformed.
func parseBasic(creds string) (user, pass string, err error) {
	if creds == "" {
		return "", "", fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(creds) > maxBasicCredentials {
		return "", "", fmt.Errorf("%w: %d bytes", ErrMalformed, len(creds))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(creds)
	if err != nil && !strings.Contains(creds, "=") {
		// Some clients leave out the padding; the value is still unambiguous.
		raw, err = base64.RawStdEncoding.Strict().DecodeString(creds)
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: base64: %w", ErrMalformed, err)
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found || user == "" {
		return "", "", fmt.Errorf("%w: no user-id", ErrMalformed)
	}
	// RFC 7617 section 2: user-id and password contain no control
	// characters.
	if !printable(user) || !printable(pass) {
		return "", "", fmt.Errorf("%w: control character", ErrMalformed)
	}
	return user, pass, nil
}

// printable reports whether s has no ASCII control characters (UTF-8
// beyond ASCII is allowed).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// verifiedCache remembers credentials that bcrypt verified, so a client
// that sends them on every request (browsers do) costs one bcrypt compare,
// not one per request. Entries are salted SHA-256 digests of user,
// password and hash: a changed hash never matches, and no password is
// kept. Bounded: when full, an arbitrary entry is evicted. Safe for
// concurrent use.
type verifiedCache struct {
	salt [16]byte
	max  int
	mu   sync.Mutex
	set  map[[sha256.Size]byte]struct{}
}

func newVerifiedCache(max int) *verifiedCache {
	c := &verifiedCache{max: max, set: make(map[[sha256.Size]byte]struct{})}
	_, _ = rand.Read(c.salt[:])
	return c
}

func (c *verifiedCache) key(user, pass string, hash []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.salt[:])
	// Lengths first, so no two (user, pass) pairs encode alike.
	fmt.Fprintf(h, "%d:%d:", len(user), len(pass))
	h.Write([]byte(user))
	h.Write([]byte(pass))
	h.Write(hash)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *verifiedCache) has(user, pass string, hash []byte) bool {
	k := c.key(user, pass, hash)
	c.mu.Lock()
	_, ok := c.set[k]
	c.mu.Unlock()
	return ok
}

func (c *verifiedCache) add(user, pass string, hash []byte) {
	k := c.key(user, pass, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.set) >= c.max {
		for old := range c.set {
			delete(c.set, old)
			break
		}
	}
	c.set[k] = struct{}{}
}
