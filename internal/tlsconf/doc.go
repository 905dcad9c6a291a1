// Package tlsconf owns the server side of TLS for Gatehouse's listeners:
// certificates from files chosen by SNI (exact names, then one-label
// wildcards), reloaded when the files change; the hand-off to an ACME
// certificate source (implemented elsewhere, internal/acme); the internal
// development CA; client certificates (mTLS); session ticket keys and their
// rotation; OCSP stapling; the modern protocol defaults; and the HSTS header
// value. A listener asks New for a Server and uses the one *tls.Config that
// Server.TLSConfig returns for its whole life: everything that a reload may
// change is looked up per handshake, so Update never replaces the config and
// never touches open connections.
//
// It knows nothing about HTTP serving (internal/listen) or about how a
// configuration is loaded (internal/config gives it plain data).
package tlsconf
