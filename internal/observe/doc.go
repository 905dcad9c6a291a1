// Package observe owns what Gatehouse tells operators about traffic: the
// per-request record (RequestInfo), the JSON access log and, later, metrics
// and tracing.
package observe
