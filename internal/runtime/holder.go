package runtime

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
)

// Holder is the http.Handler every listener serves: it forwards each request
// to the current Runtime, loaded with one atomic read (DESIGN.md: the
// runtime is immutable and swapped whole).
//
// Safe for concurrent use; Swap may be called while requests are served.
type Holder struct {
	cur atomic.Pointer[Runtime]
	// retiring counts runtimes replaced by Swap that still finish their
	// requests (streams and WebSockets can take long); Close waits for them.
	retiring sync.WaitGroup
	// beforePin, when set (tests only), runs between loading the current
	// Runtime and counting the request in it: the window a Swap can hit.
	beforePin func()
}

// NewHolder returns a Holder serving rt.
func NewHolder(rt *Runtime) *Holder {
	h := &Holder{}
	h.cur.Store(rt)
	return h
}

// Current returns the Runtime serving new requests.
func (h *Holder) Current() *Runtime { return h.cur.Load() }

// Swap makes next serve new requests and retires the previous Runtime: it
// finishes what it is serving, then releases what next did not take over
// (pools, access log). Swap returns at once.
func (h *Holder) Swap(next *Runtime) {
	prev := h.cur.Swap(next)
	if prev != nil && prev != next {
		h.retiring.Add(1)
		go func() {
			defer h.retiring.Done()
			prev.retire(next)
		}()
	}
}

// Close retires the current Runtime for good and waits, until ctx ends, for
// it and every Runtime still retiring from earlier reloads to finish their
// requests. It returns ctx.Err() when the deadline cut the wait short. Call
// it after the listeners stopped accepting and no Swap can happen any more.
func (h *Holder) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.Current().Close()
		h.retiring.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeHTTP serves r with the current Runtime. The Runtime is pinned for the
// whole request, so a reload mid-request changes nothing for it.
func (h *Holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor >= 2 {
		growStack(0)
	}
	rt := h.pin()
	defer rt.release()
	rt.ServeHTTP(w, r)
}

// pin returns the current Runtime with the request counted in it. Loading
// the pointer and counting are two steps: a Swap between them could retire
// the loaded Runtime, see no request in flight and release its resources
// while this request goes on to use them. So the count is taken first and
// the pointer checked again; if it moved, the request goes to the new one.
// A Runtime that is still current after the count cannot drain before
// release, because retire starts only after the Swap.
func (h *Holder) pin() *Runtime {
	for {
		rt := h.cur.Load()
		if h.beforePin != nil {
			h.beforePin()
		}
		rt.inflight.Add(1)
		if h.cur.Load() == rt {
			return rt
		}
		rt.release()
	}
}
