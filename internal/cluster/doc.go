// Package cluster owns the state Gatehouse instances share through Redis:
// the connection, and the Redis implementations of the small shared-state
// interfaces declared by their consumers (rate-limit counters, certificate
// storage and locks, cache purge fan-out). One instance needs no Redis; N
// instances configured with the same Redis behave as one.
package cluster
