package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// ErrNoRedis is returned by constructors of Redis-backed shared state when
// the cluster has no Redis configured.
var ErrNoRedis = errors.New("cluster: no redis configured")

// ErrLockNotHeld is returned by Unlock and RenewLockLease for a lock this
// storage does not hold (never taken, already released, or expired and
// taken by another instance).
var ErrLockNotHeld = errors.New("cluster: lock not held")

// Defaults of CertStorageOptions.
const (
	// DefaultLockTTL is how long a lock outlives a holder that vanished
	// (crashed, partitioned): the holder refreshes it every third of this.
	DefaultLockTTL = 30 * time.Second
	// DefaultLockPoll is how often Lock retries a lock another instance
	// holds. Locks guard ACME orders (seconds long), so a coarse poll costs
	// nothing noticeable.
	DefaultLockPoll = 500 * time.Millisecond
)

// CertStorageOptions tune a CertStorage; zero values take the defaults.
type CertStorageOptions struct {
	LockTTL  time.Duration
	LockPoll time.Duration
	// Now stamps Modified times (default time.Now).
	Now func() time.Time
	// Logger receives lock refresh failures (default: discard).
	Logger *slog.Logger
}

// CertStorage is certmagic.Storage (and certmagic.TryLocker,
// certmagic.LockLeaseRenewer) on Redis, under the cluster's key prefix, so
// that N instances share ACME accounts, certificates, keys and challenge
// tokens, and only one of them obtains or renews a certificate at a time.
//
// Layout: each file is a hash PREFIX+"certmagic:f:"+key {v: value, m:
// modified unix ms}; a sorted set PREFIX+"certmagic:idx" lists every file
// key (for List and directory semantics); a lock is a string
// PREFIX+"certmagic:lock:"+name holding its holder's random token. Scripts
// build keys inside Lua, so this needs a single Redis (or a primary with
// replicas), not Redis Cluster.
//
// Safe for concurrent use; all methods honour ctx. Methods do not consult
// the cluster's health back-off: certificate operations are rare and must
// not silently fall back to a local store that other instances cannot see.
type CertStorage struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	poll   time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu   sync.Mutex
	held map[string]*heldLock // by lock name
}

// heldLock is a lock this storage holds and keeps refreshing.
type heldLock struct {
	token string
	stop  chan struct{}
	done  chan struct{}
}

var _ interface {
	certmagic.Storage
	certmagic.TryLocker
	certmagic.LockLeaseRenewer
} = (*CertStorage)(nil)

// CertStorage returns the Redis certificate storage, or ErrNoRedis when the
// cluster is local (certificates then live on disk).
func (c *Cluster) CertStorage(opts CertStorageOptions) (*CertStorage, error) {
	if c.Redis() == nil {
		return nil, ErrNoRedis
	}
	if opts.LockTTL < 0 || opts.LockPoll < 0 {
		return nil, fmt.Errorf("cluster: negative lock TTL %v or poll %v", opts.LockTTL, opts.LockPoll)
	}
	s := &CertStorage{
		rdb: c.rdb, prefix: c.prefix + "certmagic:",
		ttl: opts.LockTTL, poll: opts.LockPoll, now: opts.Now, logger: opts.Logger,
		held: map[string]*heldLock{},
	}
	if s.ttl == 0 {
		s.ttl = DefaultLockTTL
	}
	if s.poll == 0 {
		s.poll = DefaultLockPoll
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *CertStorage) fileKey(key string) string { return s.prefix + "f:" + key }
func (s *CertStorage) indexKey() string          { return s.prefix + "idx" }
func (s *CertStorage) lockKey(name string) string {
	return s.prefix + "lock:" + name
}

// storeScript writes a file and indexes it in one step, so List never sees
// a file without its value. KEYS[1] file hash, KEYS[2] index; ARGV[1]
// value, ARGV[2] modified (unix ms), ARGV[3] key.
var storeScript = redis.NewScript(`
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
return 1`)

// Store implements certmagic.Storage.
func (s *CertStorage) Store(ctx context.Context, key string, value []byte) error {
	err := storeScript.Run(ctx, s.rdb, []string{s.fileKey(key), s.indexKey()},
		value, s.now().UnixMilli(), key).Err()
	if err != nil {
		return fmt.Errorf("cluster: storing %q: %w", key, err)
	}
	return nil
}

// Load implements certmagic.Storage; a missing key is fs.ErrNotExist.
func (s *CertStorage) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.HGet(ctx, s.fileKey(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("cluster: loading %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: loading %q: %w", key, err)
	}
	return v, nil
}

// deleteScript deletes a file and every file under it as a directory.
// KEYS[1] index; ARGV[1] key, ARGV[2] file key prefix.
var deleteScript = redis.NewScript(`
local doomed = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[1] .. '/', '[' .. ARGV[1] .. '/\255')
table.insert(doomed, ARGV[1])
for _, k in ipairs(doomed) do
  redis.call('DEL', ARGV[2] .. k)
  redis.call('ZREM', KEYS[1], k)
end
return #doomed`)

// Delete implements certmagic.Storage: the key and, as a directory,
// everything under it; a missing key is not an error.
func (s *CertStorage) Delete(ctx context.Context, key string) error {
	if err := deleteScript.Run(ctx, s.rdb, []string{s.indexKey()}, key, s.prefix+"f:").Err(); err != nil {
		return fmt.Errorf("cluster: deleting %q: %w", key, err)
	}
	return nil
}

// Exists implements certmagic.Storage: true for a file or a directory.
func (s *CertStorage) Exists(ctx context.Context, key string) bool {
	if n, err := s.rdb.Exists(ctx, s.fileKey(key)).Result(); err == nil && n > 0 {
		return true
	}
	under, err := s.under(ctx, key, 1)
	return err == nil && len(under) > 0
}

// under returns up to limit file keys below dir ("" is the root; limit 0
// is no limit).
func (s *CertStorage) under(ctx context.Context, dir string, limit int64) ([]string, error) {
	min, max := "-", "+"
	if dir != "" {
		min, max = "["+dir+"/", "["+dir+"/\xff"
	}
	return s.rdb.ZRangeByLex(ctx, s.indexKey(), &redis.ZRangeBy{Min: min, Max: max, Count: limit}).Result()
}

// List implements certmagic.Storage. Non-recursive: the direct children
// of dir (files and directories, as full keys). Recursive: every file and
// directory below it. An empty or missing dir is fs.ErrNotExist.
func (s *CertStorage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	files, err := s.under(ctx, dir, 0)
	if err != nil {
		return nil, fmt.Errorf("cluster: listing %q: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("cluster: listing %q: %w", dir, fs.ErrNotExist)
	}
	base := ""
	if dir != "" {
		base = dir + "/"
	}
	seen := map[string]bool{}
	for _, f := range files {
		rest := strings.TrimPrefix(f, base)
		parts := strings.Split(rest, "/")
		if !recursive {
			seen[base+parts[0]] = true
			continue
		}
		for i := range parts {
			seen[base+strings.Join(parts[:i+1], "/")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Stat implements certmagic.Storage.
func (s *CertStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	pipe := s.rdb.Pipeline()
	mod := pipe.HGet(ctx, s.fileKey(key), "m")
	size := pipe.HStrLen(ctx, s.fileKey(key), "v")
	_, err := pipe.Exec(ctx)
	switch {
	case err == nil:
		ms, perr := mod.Int64()
		if perr != nil {
			return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %q: bad modified time: %w", key, perr)
		}
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(ms), Size: size.Val(), IsTerminal: true}, nil
	case !errors.Is(err, redis.Nil):
		return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %q: %w", key, err)
	}
	under, err := s.under(ctx, key, 1)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %q: %w", key, err)
	}
	if len(under) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %q: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// String names the storage in certmagic's logs.
func (s *CertStorage) String() string { return "redis:" + s.prefix }

// Distributed locking. A lock is SET NX PX with a random token (so that
// only its holder releases it), refreshed every third of the TTL while
// held, and released with a compare-and-delete: the single-instance Redis
// lock pattern (https://redis.io/docs/latest/develop/use/patterns/distributed-locks/).
// It has no fencing tokens; certmagic tolerates the rare overlap after a
// pause longer than the TTL (a duplicate order, not a broken certificate).

// unlockScript deletes KEYS[1] only if it holds ARGV[1].
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// refreshScript extends KEYS[1] to at least ARGV[2] ms only if it holds
// ARGV[1] (never shortening a longer lease RenewLockLease granted);
// returns 1 when held.
var refreshScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`)

// Lock implements certmagic.Locker: it blocks, polling every LockPoll,
// until the named lock is free (released, or expired because its holder
// vanished) or ctx ends. A Redis error ends the wait with that error.
func (s *CertStorage) Lock(ctx context.Context, name string) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for lock %q: %w", name, ctx.Err())
		case <-t.C:
		}
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		t.Reset(s.poll)
	}
}

// TryLock implements certmagic.TryLocker: one attempt, no waiting.
func (s *CertStorage) TryLock(ctx context.Context, name string) (bool, error) {
	token := rand.Text()
	ok, err := s.rdb.SetNX(ctx, s.lockKey(name), token, s.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("cluster: taking lock %q: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	h := &heldLock{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.held[name] = h
	s.mu.Unlock()
	go s.refresh(name, h)
	return true, nil
}

// refresh keeps a held lock alive until Unlock, or until it turns out to
// be lost (expired and taken by another instance, or the client closed).
func (s *CertStorage) refresh(name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/3)
		n, err := refreshScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, h.token, s.ttl.Milliseconds()).Int()
		cancel()
		switch {
		case errors.Is(err, redis.ErrClosed):
			return
		case err != nil:
			// Transient: try again next tick; the TTL leaves two more.
			s.logger.Warn("cluster: refreshing certificate lock failed", "lock", name, "error", err)
		case n == 0:
			s.logger.Warn("cluster: certificate lock lost (expired and possibly taken by another instance)", "lock", name)
			return
		}
	}
}

// Unlock implements certmagic.Locker: stops the refresh and deletes the
// lock if it still holds this storage's token. It returns ErrLockNotHeld
// when this storage did not hold name.
func (s *CertStorage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("cluster: unlocking %q: %w", name, ErrLockNotHeld)
	}
	close(h.stop)
	<-h.done
	if err := unlockScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, h.token).Err(); err != nil {
		return fmt.Errorf("cluster: unlocking %q: %w", name, err)
	}
	return nil
}

// RenewLockLease implements certmagic.LockLeaseRenewer: it extends a lock
// this storage holds to leaseDuration from now (the background refresh
// goes on at the configured TTL).
func (s *CertStorage) RenewLockLease(ctx context.Context, name string, leaseDuration time.Duration) error {
	s.mu.Lock()
	h := s.held[name]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("cluster: renewing lock %q: %w", name, ErrLockNotHeld)
	}
	n, err := refreshScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, h.token, leaseDuration.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("cluster: renewing lock %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("cluster: renewing lock %q: %w", name, ErrLockNotHeld)
	}
	return nil
}
