package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// JWTConfig is the jwt method's settings: bearer tokens (RFC 6750) in the
// Authorization header, verified as JWTs (RFC 7519). Exactly one key
// source: Secret, PublicKeyFile or JWKSURL.
type JWTConfig struct {
	// Secret is the HMAC key for HS256/384/512, usually "${JWT_SECRET}".
	// At least as long as the hash: 32 bytes for HS256 (RFC 7518 section
	// 3.2).
	Secret string `yaml:"secret"`
	// PublicKeyFile is a PEM file with one RSA, ECDSA or Ed25519 public
	// key (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY", or a certificate).
	PublicKeyFile string `yaml:"public_key_file"`
	// JWKSURL is fetched for the signing keys (RFC 7517), cached, refreshed
	// every JWKSRefreshInterval and when a token names an unknown key.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefreshInterval: how old the keys may get before a refresh
	// (in the background; the old keys serve meanwhile). Default 10m.
	JWKSRefreshInterval config.Duration `yaml:"jwks_refresh_interval"`
	// JWKSMinRefreshInterval: the least time between two fetches, so
	// tokens with made-up key IDs cannot hammer the IdP. Default 30s.
	JWKSMinRefreshInterval config.Duration `yaml:"jwks_min_refresh_interval"`
	// JWKSTimeout bounds one fetch. Default 5s.
	JWKSTimeout config.Duration `yaml:"jwks_timeout"`

	// Algorithms accepted ("alg" of the token). Default: the HS ones the
	// secret is long enough for; RS*, PS* for an RSA key file, the one ES
	// algorithm of an EC key's curve, EdDSA for Ed25519; every asymmetric
	// one for a JWKS. "none" is never accepted; HS* only with Secret (an
	// HS token "signed" with a public key is the algorithm-confusion
	// attack).
	Algorithms []string `yaml:"algorithms"`
	// Issuer, when set, must equal the "iss" claim.
	Issuer string `yaml:"issuer"`
	// Audience, when set, must share a value with the "aud" claim.
	Audience config.StringList `yaml:"audience"`
	// Leeway allowed on exp and nbf for clock skew. Default 30s.
	Leeway *config.Duration `yaml:"leeway"`
	// Realm is named in the challenge. Default "api".
	Realm string `yaml:"realm"`
	// IdentityClaim names the identity (Identity.Name). Default "sub".
	IdentityClaim string `yaml:"identity_claim"`
	// ClaimsToHeaders maps a claim (a name, or a dotted path into nested
	// objects: "realm_access.roles") to a request header set upstream.
	// Lists are joined with ","; objects are sent as JSON. A value with a
	// control character or longer than 4096 bytes refuses the token.
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	// RequiredClaims maps a claim to the values it must hold, each of them:
	// equal to a string claim, an element of a list claim, or one of the
	// space-separated scopes of "scope"/"scp". A token without them is
	// refused with 403.
	RequiredClaims map[string]config.StringList `yaml:"required_claims"`
}

const (
	defaultJWKSRefresh    = 10 * time.Minute
	defaultJWKSMinRefresh = 30 * time.Second
	defaultJWKSTimeout    = 5 * time.Second
	defaultLeeway         = 30 * time.Second
	// maxToken bounds the bearer token examined; real JWTs are well under
	// it, and the server's header limit applies before.
	maxToken = 16 << 10
)

// ErrNoKeys is wrapped by a verification that could not run because no
// signing keys are available (the JWKS was never fetched successfully);
// the request is answered 503, not 401: the client is not at fault.
var ErrNoKeys = errors.New("no signing keys available")

// errUnknownKey is wrapped when no configured key fits the token.
var errUnknownKey = errors.New("no key for the token's kid and alg")

// keySource provides the verification keys for a token.
type keySource interface {
	// keys returns the candidate keys for a token with header values kid
	// ("" when absent) and alg (already in the allow-list). Errors wrap
	// ErrNoKeys or errUnknownKey.
	keys(ctx context.Context, kid, alg string) ([]jwt.VerificationKey, error)
}

// jwtAuth verifies bearer JWTs.
type jwtAuth struct {
	parser        *jwt.Parser
	source        keySource
	realm         string
	challenge     string
	identityClaim string
	toHeaders     []claimHeader
	required      []requiredClaim
}

func newJWT(cfg JWTConfig, env middleware.Env) (authenticator, string, error) {
	a := &jwtAuth{identityClaim: cfg.IdentityClaim}
	if a.identityClaim == "" {
		a.identityClaim = "sub"
	}
	realm, err := checkRealm(cfg.Realm, defaultAPIKeyRealm)
	if err != nil {
		return nil, "", fmt.Errorf("realm: %w", err)
	}
	a.realm = realm
	a.challenge = challenge("Bearer", realm)
	source, algs, hint, err := newKeySource(cfg, env)
	if err != nil {
		return nil, hint, err
	}
	a.source = source
	leeway := defaultLeeway
	if cfg.Leeway != nil {
		if leeway = cfg.Leeway.D(); leeway < 0 {
			return nil, "", errors.New("leeway: must not be negative")
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithJSONNumber(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(env.Now),
		// A token without exp would be valid forever.
		jwt.WithExpirationRequired(),
		// Non-canonical base64 would let one token have many spellings.
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if len(cfg.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audience...))
	}
	a.parser = jwt.NewParser(opts...)
	if a.toHeaders, err = compileClaimHeaders(cfg.ClaimsToHeaders); err != nil {
		return nil, "", err
	}
	if a.required, err = compileRequired(cfg.RequiredClaims); err != nil {
		return nil, "", err
	}
	return a, "", nil
}

func (a *jwtAuth) refuse(status int, code, reason string, err error) *refusal {
	ch := a.challenge
	if code != "" {
		ch = challenge("Bearer", a.realm, "error", code)
	}
	return &refusal{status: status, challenge: ch, reason: reason, err: err}
}

func (a *jwtAuth) authenticate(r *http.Request) (*Identity, http.Header, *refusal) {
	value, present, ok := authorization(r)
	if !ok {
		return nil, nil, a.refuse(http.StatusBadRequest, bearerInvalidRequest, "several Authorization fields", nil)
	}
	if !present {
		// RFC 6750 section 3.1: no error code when the request has no
		// authentication information.
		return nil, nil, a.refuse(http.StatusUnauthorized, "", "no credentials", nil)
	}
	creds, isBearer := cutScheme(value, "Bearer")
	if !isBearer {
		return nil, nil, a.refuse(http.StatusUnauthorized, "", "not Bearer credentials", nil)
	}
	token, err := parseBearer(creds)
	if err != nil {
		return nil, nil, a.refuse(http.StatusBadRequest, bearerInvalidRequest, "malformed bearer token", err)
	}
	claims, err := a.verify(r.Context(), token)
	if err != nil {
		if errors.Is(err, ErrNoKeys) {
			return nil, nil, &refusal{status: http.StatusServiceUnavailable, reason: "no signing keys", err: err}
		}
		return nil, nil, a.refuse(http.StatusUnauthorized, bearerInvalidToken, "invalid token", err)
	}
	add, err := claimsToHeaders(claims, a.toHeaders)
	if err != nil {
		return nil, nil, a.refuse(http.StatusUnauthorized, bearerInvalidToken, "unsafe claim value", err)
	}
	if err := checkRequired(claims, a.required); err != nil {
		return nil, nil, a.refuse(http.StatusForbidden, bearerInsufficientScope, "required claim missing", err)
	}
	id := &Identity{Method: MethodJWT, Claims: claims}
	if v, ok := lookupClaim(claims, a.identityClaim); ok {
		if s, ok := renderClaim(v); ok {
			id.Name = s
		}
	}
	return id, add, nil
}

// verify parses and validates token: signature with an allowed algorithm
// and a key that fits it, exp (required), nbf, iss and aud, with leeway.
func (a *jwtAuth) verify(ctx context.Context, token string) (map[string]any, error) {
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// RFC 7515 section 4.1.11: extensions named in "crit" must be
		// understood; Gatehouse understands none.
		if _, crit := t.Header["crit"]; crit {
			return nil, errors.New(`unsupported "crit" header`)
		}
		kid, _ := t.Header["kid"].(string)
		keys, err := a.source.keys(ctx, kid, t.Method.Alg())
		if err != nil {
			return nil, err
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	return claims, nil
}

func (a *jwtAuth) strip(r *http.Request) *http.Request {
	r.Header.Del("Authorization")
	return r
}

func (a *jwtAuth) owned() []string {
	names := make([]string, len(a.toHeaders))
	for i, ch := range a.toHeaders {
		names[i] = ch.header
	}
	return names
}

// parseBearer checks the credentials of "Bearer <token>" against the
// b64token syntax of RFC 6750 section 2.1 and a size bound. Errors wrap
// ErrMalformed.
func parseBearer(creds string) (string, error) {
	if creds == "" {
		return "", fmt.Errorf("%w: no token", ErrMalformed)
	}
	if len(creds) > maxToken {
		return "", fmt.Errorf("%w: token of %d bytes", ErrMalformed, len(creds))
	}
	// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
	i := 0
	for ; i < len(creds); i++ {
		c := creds[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return "", fmt.Errorf("%w: token syntax", ErrMalformed)
	}
	for ; i < len(creds); i++ {
		if creds[i] != '=' {
			return "", fmt.Errorf("%w: token syntax", ErrMalformed)
		}
	}
	return creds, nil
}

// Algorithm families, for the allow-list and key checks.
var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	rsaAlgs   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecAlgs    = []string{"ES256", "ES384", "ES512"}
	edAlgs    = []string{"EdDSA"}
	asymAlgs  = slices.Concat(rsaAlgs, ecAlgs, edAlgs)
	knownAlgs = slices.Concat(hmacAlgs, asymAlgs)
)

// checkAlgorithms validates an explicit allow-list against the algorithms
// the key source can verify.
func checkAlgorithms(list, possible []string, source string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, alg := range list {
		switch {
		case !slices.Contains(knownAlgs, alg):
			known := slices.Clone(knownAlgs)
			sort.Strings(known)
			return nil, fmt.Errorf("algorithms: unknown algorithm %q (known: %v; \"none\" is never accepted)", alg, known)
		case !slices.Contains(possible, alg):
			return nil, fmt.Errorf("algorithms: %s cannot be verified with %s (accepting it would allow algorithm confusion)", alg, source)
		}
		if !slices.Contains(out, alg) {
			out = append(out, alg)
		}
	}
	return out, nil
}
