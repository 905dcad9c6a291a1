// Package certs makes throw-away X.509 certificates for tests: a CA
// (ECDSA P-256) with its pool and PEM file, leaf certificates it signs for
// servers or clients, a self-signed server certificate for 127.0.0.1, and
// PEM files of any of them for code that loads certificates from disk.
// Every key is fresh, so tests never share or commit private keys. Test
// support only; production code never imports it.
package certs
