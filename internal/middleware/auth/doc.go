// Package auth owns the "auth" middleware: it authenticates a request before
// the rest of the route's chain runs, with one of four methods, and refuses
// it with 400, 401, 403 or 503 otherwise, without the backend ever seeing it.
//
//   - basic (basic.go): HTTP Basic (RFC 7617) against bcrypt hashes.
//   - api_key (apikey.go): a key in a header or query parameter, compared by
//     its SHA-256 hash in constant time.
//   - jwt (jwt.go, jwtkeys.go, jwk.go, jwks.go, claims.go): bearer tokens
//     (RFC 6750) signed with HMAC, RSA, ECDSA or Ed25519, verified with
//     github.com/golang-jwt/jwt/v5 against a secret, a PEM public key or a
//     JWKS URL that is cached, refreshed and rotated.
//   - forward (forward.go): asks an external auth service, as nginx
//     auth_request and Traefik forwardAuth do.
//
// On success the identity (method, user or key name, JWT claims) is put in
// the request's context, read with IdentityFrom, for access logs and rate
// limiting; credentials are removed from the request before it goes
// upstream unless pass_credentials is set. Refusals (challenge.go) carry
// the WWW-Authenticate challenge of the method and Gatehouse's short error
// body, never Go error text or an address.
//
// Operator documentation: docs/security.md (the auth section).
package auth
