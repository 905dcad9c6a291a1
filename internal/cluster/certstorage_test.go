package cluster

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// newTestCluster connects a Cluster (its own client) to srv.
func newTestCluster(t *testing.T, addr string) *Cluster {
	t.Helper()
	c, err := New(config.Cluster{Redis: &config.Redis{Address: addr, Prefix: "t:", Timeout: config.Duration(2 * time.Second)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newTestStorage(t *testing.T, c *Cluster, opts CertStorageOptions) *CertStorage {
	t.Helper()
	s, err := c.CertStorage(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCertStorageNeedsRedis(t *testing.T) {
	t.Parallel()
	c, err := New(config.Cluster{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CertStorage(CertStorageOptions{}); !errors.Is(err, ErrNoRedis) {
		t.Fatalf("local cluster: err = %v, want ErrNoRedis", err)
	}
}

func TestCertStorageFiles(t *testing.T) {
	srv := redisserver.Start(t)
	now := time.UnixMilli(1_700_000_000_000)
	s := newTestStorage(t, newTestCluster(t, srv.Addr()), CertStorageOptions{Now: func() time.Time { return now }})
	ctx := t.Context()
	for _, k := range []string{"certificates/ca/a.test/a.test.crt", "certificates/ca/a.test/a.test.key", "certificates/ca/b.test/b.test.crt", "acme/ca/users/x.json", "top"} {
		if err := s.Store(ctx, k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.Load(ctx, "certificates/ca/a.test/a.test.key"); err != nil || string(v) != "value of certificates/ca/a.test/a.test.key" {
		t.Fatalf("Load = %q, %v", v, err)
	}
	if _, err := s.Load(ctx, "certificates/ca/a.test"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(dir) err = %v, want fs.ErrNotExist", err)
	}
	lists := []struct {
		name      string
		dir       string
		recursive bool
		want      []string
		err       error
	}{
		{"children", "certificates/ca", false, []string{"certificates/ca/a.test", "certificates/ca/b.test"}, nil},
		{"files", "certificates/ca/a.test", false, []string{"certificates/ca/a.test/a.test.crt", "certificates/ca/a.test/a.test.key"}, nil},
		{"recursive", "certificates", true, []string{"certificates/ca", "certificates/ca/a.test", "certificates/ca/a.test/a.test.crt", "certificates/ca/a.test/a.test.key", "certificates/ca/b.test", "certificates/ca/b.test/b.test.crt"}, nil},
		{"root", "", false, []string{"acme", "certificates", "top"}, nil},
		{"prefix is per component", "certificates/c", false, nil, fs.ErrNotExist},
		{"missing", "nothing", true, nil, fs.ErrNotExist},
	}
	for _, tc := range lists {
		t.Run("List/"+tc.name, func(t *testing.T) {
			got, err := s.List(ctx, tc.dir, tc.recursive)
			if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
				t.Fatalf("List(%q, %v) = %q, %v; want %q, %v", tc.dir, tc.recursive, got, err, tc.want, tc.err)
			}
		})
	}
	stats := []struct {
		name     string
		key      string
		terminal bool
		size     int64
		err      error
	}{
		{"file", "top", true, int64(len("value of top")), nil},
		{"directory", "certificates/ca", false, 0, nil},
		{"missing", "certificates/zz", false, 0, fs.ErrNotExist},
	}
	for _, tc := range stats {
		t.Run("Stat/"+tc.name, func(t *testing.T) {
			ki, err := s.Stat(ctx, tc.key)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Stat(%q) err = %v, want %v", tc.key, err, tc.err)
			}
			if err != nil {
				return
			}
			if ki.Key != tc.key || ki.IsTerminal != tc.terminal || ki.Size != tc.size || (tc.terminal && !ki.Modified.Equal(now)) {
				t.Fatalf("Stat(%q) = %+v", tc.key, ki)
			}
			if !s.Exists(ctx, tc.key) {
				t.Fatalf("Exists(%q) = false", tc.key)
			}
		})
	}
	// Deleting a directory deletes what is under it, and only that.
	if err := s.Delete(ctx, "certificates/ca/a.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "never/stored"); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	if s.Exists(ctx, "certificates/ca/a.test") || s.Exists(ctx, "certificates/ca/a.test/a.test.crt") {
		t.Fatal("deleted directory still exists")
	}
	if got, err := s.List(ctx, "certificates/ca", false); err != nil || !slices.Equal(got, []string{"certificates/ca/b.test"}) {
		t.Fatalf("after delete: List = %q, %v", got, err)
	}
	// Everything lives under the cluster prefix.
	keys, err := s.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k[:len("t:certmagic:")] != "t:certmagic:" {
			t.Fatalf("key %q outside the prefix", k)
		}
	}
}

func TestCertStorageLockMutualExclusion(t *testing.T) {
	srv := redisserver.Start(t)
	opts := CertStorageOptions{LockTTL: 3 * time.Second, LockPoll: 5 * time.Millisecond}
	a := newTestStorage(t, newTestCluster(t, srv.Addr()), opts)
	b := newTestStorage(t, newTestCluster(t, srv.Addr()), opts)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	if err := a.Lock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_a.test"); ok || err != nil {
		t.Fatalf("B.TryLock while A holds = %v, %v", ok, err)
	}
	if err := b.Unlock(ctx, "issue_cert_a.test"); !errors.Is(err, ErrLockNotHeld) {
		t.Fatalf("B.Unlock of A's lock = %v, want ErrLockNotHeld", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	err := b.Lock(short, "issue_cert_a.test")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B.Lock with a short ctx = %v, want DeadlineExceeded", err)
	}
	if err := a.Unlock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}

	// Goroutines on both instances take turns; never two inside.
	var inside, maxInside, entries atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range 3 {
				if err := s.Lock(ctx, "shared"); err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				entries.Add(1)
				inside.Add(-1)
				if err := s.Unlock(ctx, "shared"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 || entries.Load() != 18 {
		t.Fatalf("max holders %d, entries %d; want 1 and 18", maxInside.Load(), entries.Load())
	}
}

func TestCertStorageLockRefreshAndExpiry(t *testing.T) {
	srv := redisserver.Start(t)
	opts := CertStorageOptions{LockTTL: 300 * time.Millisecond, LockPoll: 10 * time.Millisecond}
	ca := newTestCluster(t, srv.Addr())
	a := newTestStorage(t, ca, opts)
	b := newTestStorage(t, newTestCluster(t, srv.Addr()), opts)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	if err := a.Lock(ctx, "renew"); err != nil {
		t.Fatal(err)
	}
	// While A lives it refreshes: the lock outlasts several TTLs.
	held := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Since(held) < 4*opts.LockTTL {
		<-tick.C // polling under a deadline, not synchronisation
		if ok, err := b.TryLock(ctx, "renew"); ok || err != nil {
			t.Fatalf("B took a lock A still refreshes after %v (%v)", time.Since(held), err)
		}
	}
	if err := a.RenewLockLease(ctx, "renew", time.Second); err != nil {
		t.Fatal(err)
	}
	// A vanishes (its connection closes, its refresh stops): the lock
	// expires and B gets it.
	ca.Close()
	start := time.Now()
	if err := b.Lock(ctx, "renew"); err != nil {
		t.Fatalf("B.Lock after A vanished: %v", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("B waited %v for an abandoned lock", waited)
	}
	if err := b.Unlock(ctx, "renew"); err != nil {
		t.Fatal(err)
	}
}
