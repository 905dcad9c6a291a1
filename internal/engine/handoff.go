package engine

import (
	"io"
	"net"
	"sync"
)

// HandoffListener is the net.Listener through which the engine gives
// connections to net/http: serve it with the runtime's usual http.Server
// (wrapped in listen.GuardListener, so the guard checks the handed-off
// requests as it checks any other). Accept returns each handed-off
// connection with the bytes the engine had already read in front of it;
// the first of them is the start of a request. Safe for concurrent use.
type HandoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// NewHandoffListener returns a listener that reports addr as its address
// (the engine's real listener's, for logs).
func NewHandoffListener(addr net.Addr) *HandoffListener {
	return &HandoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next handed-off connection; after Close it returns
// net.ErrClosed.
func (l *HandoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; connections handed off later are closed.
func (l *HandoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address given to NewHandoffListener.
func (l *HandoffListener) Addr() net.Addr { return l.addr }

// hand passes c on; false (the listener is closed) means c was not taken.
func (l *HandoffListener) hand(c net.Conn, pre []byte) bool {
	hc := &handoffConn{Conn: c, pre: pre}
	select {
	case l.ch <- hc:
		return true
	case <-l.done:
		return false
	}
}

// handoffConn replays the bytes the engine read before returning new ones.
// It keeps ReadFrom (sendfile/splice for net/http's responses) and
// CloseWrite of the underlying connection.
type handoffConn struct {
	net.Conn
	mu  sync.Mutex // net/http reads from a background goroutine too
	pre []byte
}

// Read returns the replayed bytes first.
func (h *handoffConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	if len(h.pre) > 0 {
		n := copy(p, h.pre)
		h.pre = h.pre[n:]
		if len(h.pre) == 0 {
			h.pre = nil
		}
		h.mu.Unlock()
		return n, nil
	}
	h.mu.Unlock()
	return h.Conn.Read(p)
}

// ReadFrom uses the underlying connection's ReadFrom when it has one.
func (h *handoffConn) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := h.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{h.Conn}, src)
}

// CloseWrite half-closes the underlying connection when it can.
func (h *handoffConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return net.ErrClosed
}
