package runtime

import (
	"io"
	"sync"
)

// stateStore keeps long-lived values (the cluster connection, rate-limit
// buckets, caches) across reloads, keyed by identity. One store lives for
// the whole process and passes from runtime to runtime; each runtime
// records the keys it uses, and a value is closed once the last runtime
// using its key has retired (DESIGN.md: state survives a reload where
// identity is the same).
//
// Safe for concurrent use.
type stateStore struct {
	mu    sync.Mutex
	items map[string]*stateItem
}

type stateItem struct {
	val  any
	refs int // runtimes (built or being built) using the key
}

func newStateStore() *stateStore { return &stateStore{items: make(map[string]*stateItem)} }

// stateView is one build's window on the store: it counts a reference for
// every key the build uses, once.
type stateView struct {
	store *stateStore
	mu    sync.Mutex
	used  map[string]bool
}

func (s *stateStore) view() *stateView { return &stateView{store: s, used: make(map[string]bool)} }

// Shared implements middleware.State.
func (v *stateView) Shared(key string, create func() (any, error)) (any, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.store
	s.mu.Lock()
	it, ok := s.items[key]
	s.mu.Unlock()
	if !ok {
		// create runs without the store lock: it may be slow (a JWKS
		// fetch). Builds are serialised by the caller (one reload at a
		// time), so two creators for one key cannot race.
		val, err := create()
		if err != nil {
			return nil, err
		}
		it = &stateItem{val: val}
		s.mu.Lock()
		s.items[key] = it
		s.mu.Unlock()
	}
	if !v.used[key] {
		v.used[key] = true
		s.mu.Lock()
		it.refs++
		s.mu.Unlock()
	}
	return it.val, nil
}

// release drops one reference to each key and closes values nobody uses.
func (s *stateStore) release(keys map[string]bool) {
	var closers []io.Closer
	s.mu.Lock()
	for k := range keys {
		it := s.items[k]
		if it == nil {
			continue
		}
		if it.refs--; it.refs <= 0 {
			delete(s.items, k)
			if c, ok := it.val.(io.Closer); ok {
				closers = append(closers, c)
			}
		}
	}
	s.mu.Unlock()
	for _, c := range closers {
		_ = c.Close()
	}
}
