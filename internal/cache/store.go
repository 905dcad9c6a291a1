package cache

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
)

// Segments of the store's segmented LRU.
const (
	segNone uint8 = iota
	segProbation
	segProtected
)

// probationShare is the part of the capacity the probation segment keeps
// for itself when the protected segment is full: new entries start there
// and must be hit again to be promoted, so a flood of one-hit wonders
// only churns probation and never pushes out the proven working set.
const probationShare = 5 // 1/5 = 20%

// ErrStoreSize is returned by NewStore for a non-positive capacity.
var ErrStoreSize = errors.New("cache: store size must be positive")

// Store is an in-memory response store bounded by bytes (headers, body and
// a per-entry overhead are counted), with segmented-LRU admission and
// eviction. Its accounted size never exceeds its capacity. Safe for
// concurrent use.
type Store struct {
	mu       sync.Mutex
	capacity int64
	used     int64
	protUsed int64
	buckets  map[string][]*Entry // primary key → variants
	tags     map[string]map[*Entry]struct{}
	prob     list // head = most recent
	prot     list

	// The optional disk store of large bodies: its LRU of files (head =
	// most recent), the bytes they hold, and files dropped under the lock
	// that unlock deletes once the lock is released.
	disk     *Disk
	diskUsed int64
	dhead    *diskObject
	dtail    *diskObject
	pending  []*diskObject
}

type list struct{ head, tail *Entry }

func (l *list) pushFront(e *Entry) {
	e.prev, e.next = nil, l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

func (l *list) remove(e *Entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// NewStore returns an empty store holding at most capacity bytes.
func NewStore(capacity int64) (*Store, error) {
	if capacity <= 0 {
		return nil, ErrStoreSize
	}
	return &Store{capacity: capacity, buckets: map[string][]*Entry{}, tags: map[string]map[*Entry]struct{}{}}, nil
}

// NewStoreWithDisk is NewStore with an on-disk store for large bodies: an
// Entry whose body is in a file of disk counts its header and overhead
// against capacity and its body against disk's capacity; both bounds
// hold. Close closes disk.
func NewStoreWithDisk(capacity int64, disk *Disk) (*Store, error) {
	if disk == nil {
		return nil, fmt.Errorf("%w: nil disk", ErrDisk)
	}
	s, err := NewStore(capacity)
	if err != nil {
		return nil, err
	}
	s.disk = disk
	return s, nil
}

// Disk returns the store's disk store, nil if it has none.
func (s *Store) Disk() *Disk { return s.disk }

// DiskUsed is the size of the bodies stored on disk, in bytes; at most
// Disk().Capacity().
func (s *Store) DiskUsed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.diskUsed
}

// Close releases the disk store (its files are deleted). The store must
// not be used afterwards. It is what env.Shared calls once no runtime uses
// the store.
func (s *Store) Close() error {
	if s.disk == nil {
		return nil
	}
	return s.disk.Close()
}

// unlock releases the lock and then deletes the files dropped under it
// (no file I/O under the store's lock).
func (s *Store) unlock() {
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, o := range p {
		_ = os.Remove(o.path)
	}
}

func (s *Store) dpush(o *diskObject) {
	o.prev, o.next, o.listed = nil, s.dhead, true
	if s.dhead != nil {
		s.dhead.prev = o
	}
	s.dhead = o
	if s.dtail == nil {
		s.dtail = o
	}
}

func (s *Store) dunlink(o *diskObject) {
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		s.dhead = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	} else {
		s.dtail = o.prev
	}
	o.prev, o.next, o.listed = nil, nil, false
}

// dropObject takes o off the disk accounting and schedules its file for
// deletion; readers that opened it already keep reading (see diskObject).
func (s *Store) dropObject(o *diskObject) {
	if !o.listed {
		return
	}
	s.dunlink(o)
	s.diskUsed -= o.size
	o.owner = nil
	o.markDeleted()
	s.pending = append(s.pending, o)
}

// evictObject removes the least recently used file and its entry.
func (s *Store) evictObject(o *diskObject) {
	if e := o.owner; e != nil && e.seg != segNone {
		s.removeLocked(e)
	}
	s.dropObject(o)
}

// Capacity is the bound in bytes.
func (s *Store) Capacity() int64 { return s.capacity }

// Used is the accounted size of the stored entries, in bytes.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Len is the number of stored entries.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.buckets {
		n += len(b)
	}
	return n
}

// lookup returns the newest entry under key that matches (see
// Entry.matches) and counts the hit for admission; nil if none. any
// reports whether key has entries at all (for Cache-Status vary-miss).
func (s *Store) lookup(key, variant string, h http.Header) (e *Entry, any bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key]
	for i := len(b) - 1; i >= 0; i-- {
		if b[i].matches(variant, h) {
			s.touch(b[i])
			if o := b[i].disk; o != nil && o.listed {
				s.dunlink(o)
				s.dpush(o)
			}
			return b[i], true
		}
	}
	return nil, len(b) > 0
}

// touch promotes e: from probation into protected, or to the front of
// protected; protected overflow is demoted back to probation.
func (s *Store) touch(e *Entry) {
	switch e.seg {
	case segProbation:
		s.prob.remove(e)
		e.seg = segProtected
		s.prot.pushFront(e)
		s.protUsed += e.size
		s.rebalance()
	case segProtected:
		s.prot.remove(e)
		s.prot.pushFront(e)
	}
}

func (s *Store) rebalance() {
	limit := s.capacity - s.capacity/probationShare
	for s.protUsed > limit && s.prot.tail != nil {
		t := s.prot.tail
		s.prot.remove(t)
		s.protUsed -= t.size
		t.seg = segProbation
		s.prob.pushFront(t)
	}
}

// Put stores e, replacing the entry with the same variant and Vary values
// (RFC 9111 §4: the newer response replaces the older one). It returns
// false when e alone is larger than the capacity, or its body file is
// larger than the disk's capacity or already gone (the caller then deletes
// a file it made). Eviction takes the least recently used probation
// entries first, then protected ones; a body file over the disk bound
// evicts the least recently used files (and their entries).
func (s *Store) Put(e *Entry) bool {
	if e.size == 0 {
		e.computeSize()
	}
	if e.size > s.capacity {
		return false
	}
	s.mu.Lock()
	defer s.unlock()
	o := e.disk
	if o != nil {
		if s.disk == nil || o.size > s.disk.capacity || o.isDeleted() {
			return false
		}
		// Held before the entry it replaces is removed: a 304 merge
		// shares the file with it.
		o.refs++
	}
	for _, old := range s.buckets[e.Key] {
		if old.Variant == e.Variant && slicesEqual(old.vary, e.vary) && slicesEqual(old.varyVals, e.varyVals) {
			s.removeLocked(old)
			break
		}
	}
	for s.used+e.size > s.capacity {
		victim := s.prob.tail
		if victim == nil {
			victim = s.prot.tail
		}
		if victim == nil {
			break
		}
		s.removeLocked(victim)
	}
	if o != nil {
		if o.listed {
			s.dunlink(o)
		} else {
			for s.diskUsed+o.size > s.disk.capacity && s.dtail != nil {
				s.evictObject(s.dtail)
			}
			s.diskUsed += o.size
		}
		s.dpush(o)
		o.owner = e
	}
	s.buckets[e.Key] = append(s.buckets[e.Key], e)
	for _, t := range e.tags {
		m := s.tags[t]
		if m == nil {
			m = map[*Entry]struct{}{}
			s.tags[t] = m
		}
		m[e] = struct{}{}
	}
	e.seg = segProbation
	s.prob.pushFront(e)
	s.used += e.size
	return true
}

// Remove deletes e if it is still stored.
func (s *Store) Remove(e *Entry) {
	s.mu.Lock()
	defer s.unlock()
	if e.seg != segNone {
		s.removeLocked(e)
	}
}

func (s *Store) removeLocked(e *Entry) {
	switch e.seg {
	case segProbation:
		s.prob.remove(e)
	case segProtected:
		s.prot.remove(e)
		s.protUsed -= e.size
	default:
		return
	}
	e.seg = segNone
	s.used -= e.size
	if o := e.disk; o != nil {
		if o.refs--; o.refs <= 0 {
			s.dropObject(o)
		}
	}
	b := s.buckets[e.Key]
	for i, x := range b {
		if x == e {
			b = append(b[:i:i], b[i+1:]...)
			break
		}
	}
	if len(b) == 0 {
		delete(s.buckets, e.Key)
	} else {
		s.buckets[e.Key] = b
	}
	for _, t := range e.tags {
		if m := s.tags[t]; m != nil {
			delete(m, e)
			if len(m) == 0 {
				delete(s.tags, t)
			}
		}
	}
}

// PurgeKey removes every entry under the primary key; it returns how many.
func (s *Store) PurgeKey(key string) int {
	s.mu.Lock()
	defer s.unlock()
	b := append([]*Entry(nil), s.buckets[key]...)
	for _, e := range b {
		s.removeLocked(e)
	}
	return len(b)
}

// PurgePrefix removes every entry whose primary key starts with prefix.
// It walks all keys: purges are rare, lookups are not.
func (s *Store) PurgePrefix(prefix string) int {
	s.mu.Lock()
	defer s.unlock()
	n := 0
	for k, b := range s.buckets {
		if strings.HasPrefix(k, prefix) {
			for _, e := range append([]*Entry(nil), b...) {
				s.removeLocked(e)
				n++
			}
		}
	}
	return n
}

// PurgeTag removes every entry tagged tag (Surrogate-Key / Cache-Tag).
func (s *Store) PurgeTag(tag string) int {
	s.mu.Lock()
	defer s.unlock()
	m := s.tags[tag]
	n := 0
	for e := range m {
		s.removeLocked(e)
		n++
	}
	return n
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
