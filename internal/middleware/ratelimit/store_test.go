package ratelimit

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

func keyN(i uint64) keyHash {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	return hashKey(b[:])
}

// TestFloodMemoryBounded: a million distinct keys through a store bounded
// at 100k keep the heap under a fixed bound, in bounded time.
func TestFloodMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 decisions")
	}
	const maxKeys, flood = 100_000, 1_000_000
	const heapBound = 32 << 20 // 100k entries need ~8 MiB; leave room for the runtime
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s := newStore(maxKeys)
	now := time.Unix(1_700_000_000, 0)
	start := time.Now()
	for i := range uint64(flood) {
		// Long interval: no bucket is ever full again, so nothing expires
		// and every insert past the bound must evict.
		if d := s.take(keyN(i), now, time.Hour, 10); !d.Allowed {
			t.Fatalf("fresh key %d refused", i)
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d keys: %v, heap grew %.1f MiB, %d entries held", flood, elapsed, float64(grown)/(1<<20), s.len())
	if n := s.len(); n > maxKeys+storeShards || n < maxKeys*9/10 {
		t.Errorf("store holds %d entries, want about %d", n, maxKeys)
	}
	if grown > heapBound {
		t.Errorf("heap grew %d bytes, bound %d", grown, heapBound)
	}
	if elapsed > 60*time.Second {
		t.Errorf("flood took %v", elapsed)
	}
	runtime.KeepAlive(s)
}

// TestStoreEvictsLRUAndReusesDead: a bounded shard evicts its least
// recently used entry, and reuses dead (full again) buckets first.
func TestStoreEvictsLRUAndReusesDead(t *testing.T) {
	t.Parallel()
	s := newStore(storeShards * 2) // 2 per shard
	now := time.Unix(1_700_000_000, 0)
	// Three keys in the same shard.
	var ks []keyHash
	for i := uint64(0); len(ks) < 4; i++ {
		k := keyN(i)
		if binary.LittleEndian.Uint16(k[:2])%storeShards == 0 {
			ks = append(ks, k)
		}
	}
	take := func(k keyHash) Decision { return s.take(k, now, time.Hour, 1) }
	take(ks[0])
	take(ks[1])
	take(ks[0]) // refused, and ks[0] becomes most recent
	take(ks[2]) // evicts ks[1], the least recently used
	if d := take(ks[0]); d.Allowed {
		t.Fatal("recently used key was evicted")
	}
	if d := take(ks[1]); !d.Allowed {
		t.Fatal("least recently used key was not evicted")
	}
	if n := s.len(); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	// Two hours later every bucket is full again: inserting reuses a dead
	// slot, the live count does not grow.
	now = now.Add(2 * time.Hour)
	take(ks[3])
	if n := s.len(); n > 2 {
		t.Fatalf("%d entries after reuse, want <= 2", n)
	}
}

func BenchmarkStoreTake(b *testing.B) {
	s := newStore(DefaultMaxKeys)
	now := time.Unix(1_700_000_000, 0)
	k := keyN(7)
	b.ReportAllocs()
	for b.Loop() {
		s.take(k, now, time.Millisecond, 1_000_000)
	}
}

func BenchmarkMiddlewareAllowed(b *testing.B) {
	clk := newClock()
	h := build(b, Name, map[string]any{"rate": "1000000/s", "burst": 1_000_000_000}, envWithClock(clk), &backend{})
	r := request("192.0.2.1")
	w := &discardWriter{h: make(map[string][]string)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
