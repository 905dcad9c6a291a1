package proxy

import "sync"

// copyBufferSize is the response copy buffer: ReverseProxy's own size.
const copyBufferSize = 32 << 10

// bufferPool recycles response copy buffers (httputil.BufferPool), which
// ReverseProxy would otherwise allocate per request (32 KiB each). One pool
// per handler, so there is no package-level state.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any {
		b := make([]byte, copyBufferSize)
		return &b
	}}}
}

// Get returns a buffer of copyBufferSize bytes.
func (bp *bufferPool) Get() []byte { return *bp.p.Get().(*[]byte) }

// Put returns b to the pool. The small pointer allocation is far cheaper
// than a 32 KiB buffer.
func (bp *bufferPool) Put(b []byte) {
	if cap(b) < copyBufferSize {
		return
	}
	b = b[:copyBufferSize]
	bp.p.Put(&b)
}
