package ratelimit

import (
	"encoding/binary"
	"sync"
	"time"
)

// DefaultMaxKeys is how many buckets a limiter keeps in memory by default.
const DefaultMaxKeys = 100_000

// storeShards splits the store so that concurrent requests rarely wait for
// one another; a power of two so the shard is a mask of the key.
const storeShards = 64

// store holds the local buckets of one limiter: at most maxKeys of them,
// in memory that does not grow past that whatever the number of distinct
// keys (a flood of random API keys or IPv6 /64s cannot exhaust memory).
//
// A bucket is only its theoretical arrival time; it is dead once that time
// has passed (the bucket is full again, the same as no entry). Entries are
// kept in least-recently-used order per shard; inserting into a full shard
// reuses the oldest entry. Forgetting a bucket that is not yet full hands
// its key a fresh burst: max_keys must exceed the number of clients that
// are limited at the same time.
//
// Safe for concurrent use. It survives reloads through middleware.State
// while the limiter's identity is unchanged.
type store struct {
	shards   [storeShards]shard
	perShard int32
}

type shard struct {
	mu    sync.Mutex
	index map[keyHash]int32
	nodes []node // grows to perShard, then entries are reused
	head  int32  // most recently used, -1 when empty
	tail  int32  // least recently used
}

type node struct {
	key        keyHash
	tat        int64
	prev, next int32
}

func newStore(maxKeys int) *store {
	per := max(int32((maxKeys+storeShards-1)/storeShards), 1)
	s := &store{perShard: per}
	for i := range s.shards {
		s.shards[i].index = make(map[keyHash]int32)
		s.shards[i].head, s.shards[i].tail = -1, -1
	}
	return s
}

// take makes one GCRA decision for key at now.
func (s *store) take(key keyHash, now time.Time, interval time.Duration, burst int64) Decision {
	sh := &s.shards[binary.LittleEndian.Uint16(key[:2])%storeShards]
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, found := sh.index[key]
	var tat int64
	if found {
		tat = sh.nodes[i].tat
	}
	newTat, d := gcra(tat, t, interval, burst)
	switch {
	case found:
		sh.nodes[i].tat = newTat
		sh.moveToFront(i)
	case d.Allowed:
		sh.insert(key, newTat, s.perShard, t)
	}
	return d
}

// len returns the number of entries held (tests).
func (s *store) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}

// insert adds key; in a full shard the least recently used entry (usually
// long dead) is reused, so memory stays at perShard entries.
func (sh *shard) insert(key keyHash, tat int64, perShard int32, now int64) {
	var i int32
	switch {
	case sh.tail >= 0 && sh.nodes[sh.tail].tat <= now:
		// The oldest bucket is full again (dead): reuse its slot before
		// growing, so memory follows the live set, not the key history.
		i = sh.reuseTail()
	case int32(len(sh.nodes)) < perShard:
		i = int32(len(sh.nodes))
		sh.nodes = append(sh.nodes, node{})
	default:
		i = sh.reuseTail()
	}
	sh.nodes[i] = node{key: key, tat: tat, prev: -1, next: sh.head}
	if sh.head >= 0 {
		sh.nodes[sh.head].prev = i
	}
	sh.head = i
	if sh.tail < 0 {
		sh.tail = i
	}
	sh.index[key] = i
}

// reuseTail unlinks the least recently used entry and returns its slot.
func (sh *shard) reuseTail() int32 {
	i := sh.tail
	delete(sh.index, sh.nodes[i].key)
	sh.unlink(i)
	return i
}

func (sh *shard) unlink(i int32) {
	n := &sh.nodes[i]
	if n.prev >= 0 {
		sh.nodes[n.prev].next = n.next
	} else {
		sh.head = n.next
	}
	if n.next >= 0 {
		sh.nodes[n.next].prev = n.prev
	} else {
		sh.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (sh *shard) moveToFront(i int32) {
	if sh.head == i {
		return
	}
	sh.unlink(i)
	sh.nodes[i].next = sh.head
	if sh.head >= 0 {
		sh.nodes[sh.head].prev = i
	}
	sh.head = i
	if sh.tail < 0 {
		sh.tail = i
	}
}
