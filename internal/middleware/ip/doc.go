// Package ip owns the "ip" middleware: allow and deny lists of CIDRs or
// single addresses (IPv4 and IPv6), checked against the real client
// address (observe.RequestInfo.ClientIP, after trusted-proxy handling).
// Deny wins over allow; a non-empty allow list refuses everything it does
// not cover. Refusals are 403 with Gatehouse's error body. The lookup is a
// binary search over merged address ranges and does not allocate.
package ip
