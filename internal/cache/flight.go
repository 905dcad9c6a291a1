package cache

import "sync"

// flights coalesces concurrent misses: the first request for a key leads
// (goes upstream and fills the store), the others wait for it to finish
// and then look the store up again. Safe for concurrent use.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct{ done chan struct{} }

// join returns the flight for key and whether the caller leads it; the
// leader must call leave when its fill is over.
func (f *flights) join(key string) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.m[key]; ok {
		return fl, false
	}
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	return fl, true
}

// busy says whether key has a flight in progress (background revalidation
// starts only when none does).
func (f *flights) busy(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.m[key]
	return ok
}

func (f *flights) leave(key string, fl *flight) {
	f.mu.Lock()
	if f.m[key] == fl {
		delete(f.m, key)
	}
	f.mu.Unlock()
	close(fl.done)
}
