// Package acme owns automatic certificates (RFC 8555) through
// caddyserver/certmagic: obtaining the configured domains at start without
// holding up serving, renewing them in the background, answering HTTP-01
// (RFC 8555 §8.3) and TLS-ALPN-01 (RFC 8737) challenges on Gatehouse's own
// listeners — including challenges another instance started, through the
// shared storage — and on-demand issuance for names an allow-list or an
// ask endpoint approves, under a rate limit.
//
// It does not choose between certificate sources (files, ACME, internal
// CA): internal/tlsconf does, calling Manager.GetCertificate.
package acme
