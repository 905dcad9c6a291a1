// Package listen owns Gatehouse's listening sockets: TCP, TLS and QUIC
// listeners, PROXY protocol, connection limits, handing sockets across
// reloads, and the request-framing guard (guard.go) that refuses ambiguous
// HTTP/1.1 framing before net/http reads it.
package listen
