package tlsconf

import (
	"context"
	"crypto/rand"
	"sync"
	"time"
)

// TicketKeySource supplies the session ticket keys (RFC 8446 section 4.6.1,
// RFC 5077) a listener encrypts and decrypts tickets with. The first key
// encrypts new tickets; all of them decrypt, so a rotated-out key still
// resumes the sessions it issued. A shared implementation (Redis, in
// internal/cluster) lets N instances resume each other's sessions. Called
// from one goroutine per Server, every Options.TicketRefresh; an error keeps
// the keys already in use. Implementations must be safe for concurrent use
// (several listeners share one).
type TicketKeySource interface {
	TicketKeys(ctx context.Context) ([][32]byte, error)
}

// Rotation of the local ticket keys: a new key every 12 h, the last three
// kept, so a ticket stays usable for 24 to 36 h and a stolen key exposes at
// most that window of sessions (forward secrecy of resumption depends on
// the key being thrown away).
const (
	TicketRotation = 12 * time.Hour
	ticketKeep     = 3
)

// LocalTicketKeys is the TicketKeySource of a single instance: random keys
// held in memory, rotated every TicketRotation, the last three kept. Safe
// for concurrent use.
type LocalTicketKeys struct {
	now func() time.Time

	mu      sync.Mutex
	keys    [][32]byte // newest first
	created time.Time  // of keys[0]
}

// NewLocalTicketKeys returns local keys rotated on the clock now (nil:
// time.Now).
func NewLocalTicketKeys(now func() time.Time) *LocalTicketKeys {
	if now == nil {
		now = time.Now
	}
	return &LocalTicketKeys{now: now}
}

// TicketKeys returns the keys, newest first, adding a new key when the
// newest is TicketRotation old. It never fails.
func (l *LocalTicketKeys) TicketKeys(context.Context) ([][32]byte, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) == 0 || now.Sub(l.created) >= TicketRotation {
		var k [32]byte
		_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
		l.keys = append([][32]byte{k}, l.keys[:min(len(l.keys), ticketKeep-1)]...)
		l.created = now
	}
	return append([][32]byte(nil), l.keys...), nil
}
