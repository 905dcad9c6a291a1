// Package clientcert is the client_cert middleware: per-route mutual TLS.
// A listener asks for client certificates (tls.client_auth, mode
// verify_if_given); routes that must only serve verified clients add
// client_cert, optionally narrowed to certain subjects or fingerprints.
// docs/tls.md, "Client certificates (mTLS)".
package clientcert
