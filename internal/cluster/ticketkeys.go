package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of TicketKeysOptions.
const (
	// DefaultTicketKeyPeriod is how long one session ticket key encrypts.
	DefaultTicketKeyPeriod = 12 * time.Hour
	// DefaultTicketKeysKept is how many keys decrypt: the current one and
	// the two before it, so a ticket stays usable for 24 to 36 hours.
	DefaultTicketKeysKept = 3
)

// TicketKeysOptions tune a TicketKeys; zero values take the defaults.
type TicketKeysOptions struct {
	Period time.Duration
	Keep   int
	// Now is the clock that picks the current period (default time.Now).
	// Instances' clocks need only agree to well within a period.
	Now func() time.Time
	// Rand is the source of new keys (default crypto/rand.Reader).
	Rand io.Reader
}

// TicketKeys shares TLS session ticket keys (RFC 5077 §4; RFC 8446 §4.6.1
// tickets in TLS 1.3) between instances, so a client resumes a session on
// any of them. Time is cut into periods; the key of a period is generated
// by the first instance that asks for it (SET NX) and read by all others.
// Keys expire in Redis after Keep+1 periods.
//
// Safe for concurrent use.
type TicketKeys struct {
	rdb    redis.UniversalClient
	prefix string
	period time.Duration
	keep   int
	now    func() time.Time
	rand   io.Reader
}

// TicketKeys returns the shared session ticket keys, or ErrNoRedis when
// the cluster is local (crypto/tls then rotates its own keys per process).
func (c *Cluster) TicketKeys(opts TicketKeysOptions) (*TicketKeys, error) {
	if c.Redis() == nil {
		return nil, ErrNoRedis
	}
	if opts.Period < 0 || opts.Keep < 0 {
		return nil, fmt.Errorf("cluster: negative ticket key period %v or count %d", opts.Period, opts.Keep)
	}
	k := &TicketKeys{rdb: c.rdb, prefix: c.prefix + "tls:ticketkey:", period: opts.Period, keep: opts.Keep, now: opts.Now, rand: opts.Rand}
	if k.period == 0 {
		k.period = DefaultTicketKeyPeriod
	}
	if k.keep == 0 {
		k.keep = DefaultTicketKeysKept
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	return k, nil
}

// NextRotation is when the current period ends: callers refresh their
// tls.Config with TicketKeys then (and, to pick up a key another instance
// made, every few minutes).
func (k *TicketKeys) NextRotation() time.Time {
	return time.Unix(0, (k.epoch()+1)*int64(k.period))
}

func (k *TicketKeys) epoch() int64 { return k.now().UnixNano() / int64(k.period) }

func (k *TicketKeys) key(epoch int64) string { return k.prefix + strconv.FormatInt(epoch, 10) }

// TicketKeys returns the keys for tls.Config.SetSessionTicketKeys: the
// current period's first (it encrypts new tickets), then the previous
// Keep-1 periods' that exist, then the next period's if an instance whose
// clock runs ahead already made it (decrypt only). It creates the current
// key when no instance has yet. Errors wrap the Redis error; the caller
// keeps its previous keys.
func (k *TicketKeys) TicketKeys(ctx context.Context) ([][32]byte, error) {
	var fresh [32]byte
	if _, err := io.ReadFull(k.rand, fresh[:]); err != nil {
		return nil, fmt.Errorf("cluster: generating a ticket key: %w", err)
	}
	e := k.epoch()
	names := make([]string, 0, k.keep+1)
	for i := range k.keep {
		names = append(names, k.key(e-int64(i)))
	}
	names = append(names, k.key(e+1))
	pipe := k.rdb.Pipeline()
	// The current period's key lives until the last period that still
	// decrypts with it has ended, whenever in its period it was made.
	pipe.SetNX(ctx, names[0], fresh[:], time.Duration(k.keep+1)*k.period)
	got := pipe.MGet(ctx, names...)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cluster: reading ticket keys: %w", err)
	}
	var keys [][32]byte
	for i, v := range got.Val() {
		s, ok := v.(string)
		if !ok {
			continue // never made: no instance ran in that period
		}
		if len(s) != 32 {
			return nil, fmt.Errorf("cluster: ticket key %s: %w", names[i], errBadTicketKey)
		}
		keys = append(keys, [32]byte([]byte(s)))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("cluster: ticket key %s missing after SET NX: %w", names[0], errBadTicketKey)
	}
	return keys, nil
}

var errBadTicketKey = errors.New("malformed or missing ticket key")
