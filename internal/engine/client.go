package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// ErrBadPoolOptions is returned (wrapped) by NewConnPool.
var ErrBadPoolOptions = errors.New("engine: invalid connection pool options")

// PoolOptions configure a ConnPool. Zero fields take the config defaults.
type PoolOptions struct {
	// MaxIdlePerTarget bounds the idle connections kept per target
	// (default config.DefaultMaxIdlePerTarget); a connection returned to
	// a full stack is closed.
	MaxIdlePerTarget int
	// IdleTimeout closes a connection idle for longer (default
	// config.DefaultIdleConnTimeout). Backends close idle connections
	// too; a pooled one that turns out closed is retried (see exchange).
	IdleTimeout time.Duration
	// MaxConnsPerTarget bounds all connections to one target, idle and
	// busy (upstreams.*.max_conns_per_target; 0 = no bound). A request
	// that needs a new connection past it waits for one to be released,
	// up to its connect timeout, then fails as overloaded (503), as
	// net/http's MaxConnsPerHost makes requests wait.
	MaxConnsPerTarget int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ConnPool keeps idle keep-alive connections to the targets of one
// upstream, per target, as a LIFO stack: the most recently used
// connection is reused first, so the others age out and the working set
// stays small and warm (the prototype's choice; nginx's keepalive cache
// is LIFO too). The runtime keeps one ConnPool per upstream.Pool and
// reuses it across reloads with the pool. Safe for concurrent use.
type ConnPool struct {
	maxIdle  int
	maxConns int
	idle     time.Duration
	now      func() time.Time
	stacks   sync.Map // *upstream.Target → *idleStack
	stop     chan struct{}
	once     sync.Once
}

// upConn is one connection to a target.
type upConn struct {
	nc        net.Conn
	tcp       *net.TCPConn // nc when TCP (splice source)
	unix      *net.UnixConn
	io        fdIO // raw reads, writes and splices (see fdIO)
	target    *upstream.Target
	sc        *protocol.FramingScanner // response framing
	idleSince time.Time
	reused    bool // taken from the pool (may be stale)
	closed    bool // close ran (the slot is released once)
	// The deadlines armed on nc. They stay armed while the connection is
	// idle in the pool: every exchange arms its own before each I/O.
	rdl, wdl armedDeadline
}

type idleStack struct {
	mu    sync.Mutex
	conns []*upConn
	// open counts the target's connections, idle and busy, when
	// MaxConnsPerTarget is set; freed is closed (and replaced) when one is
	// released while requests wait for a slot.
	open    int
	waiting int
	freed   chan struct{}
}

// NewConnPool validates opts and starts the reaper that closes expired
// idle connections; Close stops it.
func NewConnPool(opts PoolOptions) (*ConnPool, error) {
	if opts.MaxIdlePerTarget < 0 || opts.IdleTimeout < 0 || opts.MaxConnsPerTarget < 0 {
		return nil, fmt.Errorf("%w: negative value", ErrBadPoolOptions)
	}
	p := &ConnPool{maxIdle: opts.MaxIdlePerTarget, maxConns: opts.MaxConnsPerTarget, idle: opts.IdleTimeout, now: opts.Now, stop: make(chan struct{})}
	if p.maxIdle == 0 {
		p.maxIdle = config.DefaultMaxIdlePerTarget
	}
	if p.idle == 0 {
		p.idle = time.Duration(config.DefaultIdleConnTimeout)
	}
	if p.now == nil {
		p.now = time.Now
	}
	go p.reap()
	return p, nil
}

func (p *ConnPool) stack(t *upstream.Target) *idleStack {
	if s, ok := p.stacks.Load(t); ok {
		return s.(*idleStack)
	}
	s, _ := p.stacks.LoadOrStore(t, &idleStack{})
	return s.(*idleStack)
}

// get pops the most recent idle connection to t that has not expired at
// now (the caller's recent clock reading; zero reads the clock), or
// returns nil. Expired connections below it are older still and closed.
func (p *ConnPool) get(t *upstream.Target, now time.Time) *upConn {
	s := p.stack(t)
	if now.IsZero() {
		now = p.now()
	}
	s.mu.Lock()
	for n := len(s.conns); n > 0; n = len(s.conns) {
		uc := s.conns[n-1]
		s.conns[n-1] = nil
		s.conns = s.conns[:n-1]
		if now.Sub(uc.idleSince) < p.idle {
			s.mu.Unlock()
			uc.reused = true
			return uc
		}
		p.discardLocked(s, uc)
	}
	s.mu.Unlock()
	return nil
}

// put makes uc idle since now (the caller's recent clock reading; zero
// reads the clock), or closes it when the stack is full or the pool is
// closed.
func (p *ConnPool) put(uc *upConn, now time.Time) {
	select {
	case <-p.stop:
		p.close(uc)
		return
	default:
	}
	if now.IsZero() {
		now = p.now()
	}
	uc.idleSince = now
	s := p.stack(uc.target)
	s.mu.Lock()
	if len(s.conns) >= p.maxIdle {
		p.discardLocked(s, uc)
		s.mu.Unlock()
		return
	}
	s.conns = append(s.conns, uc)
	s.wakeLocked() // a request waiting for a slot takes this one
	s.mu.Unlock()
}

// dial opens a new connection to t within timeout (0: no bound) or until
// ctx is done. Errors wrap protocol.ErrUpstreamConnect (so StatusFor gives
// 502, or 504 for a timeout).
func (p *ConnPool) dial(ctx context.Context, t *upstream.Target, timeout time.Duration) (*upConn, error) {
	if idle, err := p.reserve(t, timeout); err != nil || idle != nil {
		return idle, err
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, t.Network(), t.Address())
	if err != nil {
		p.release(p.stack(t))
		return nil, fmt.Errorf("%w: %w", protocol.ErrUpstreamConnect, err)
	}
	uc := &upConn{nc: nc, target: t, sc: protocol.NewResponseScanner()}
	switch c := nc.(type) {
	case *net.TCPConn:
		uc.tcp = c
	case *net.UnixConn:
		uc.unix = c
	}
	uc.io.init(nc)
	return uc, nil
}

// getSendable is get for a request: one that cannot be sent twice
// (repeatable false) must not find out by failing that the backend closed
// the pooled connection while it idled (http.Transport learns it from its
// read loop), so such a connection is peeked at first and dropped if
// closed. now is a recent clock reading (zero reads the clock).
func (p *ConnPool) getSendable(t *upstream.Target, now time.Time, repeatable bool) *upConn {
	uc := p.get(t, now)
	if uc == nil || repeatable {
		return uc
	}
	if now.IsZero() {
		now = p.now()
	}
	if uc.closedByPeer(now) {
		p.close(uc)
		return nil
	}
	return uc
}

// closedByPeer reports whether the backend closed uc (or wrote to it)
// while it idled in the pool; false when it cannot tell (no descriptor).
// now is a recent clock reading.
func (uc *upConn) closedByPeer(now time.Time) bool {
	if uc.io.rc == nil {
		return false
	}
	if !uc.rdl.t.IsZero() && !uc.rdl.t.After(now) {
		// A deadline an earlier exchange armed has passed while the
		// connection idled: the peek would fail on it, not on the peer.
		_ = uc.nc.SetReadDeadline(time.Time{})
		uc.rdl.set(time.Time{})
	}
	return uc.io.peekIdle()
}

// read is nc.Read through raw system calls when nc has a descriptor.
func (uc *upConn) read(p []byte) (int, error) {
	if uc.io.rc != nil {
		return uc.io.read(p)
	}
	return uc.nc.Read(p)
}

// write is nc.Write through raw system calls when nc has a descriptor.
func (uc *upConn) write(p []byte) (int, error) {
	if uc.io.rc != nil {
		return uc.io.write(p)
	}
	return uc.nc.Write(p)
}

// reap closes expired idle connections every half idle timeout, so idle
// sockets to backends do not linger when traffic stops.
func (p *ConnPool) reap() {
	tick := time.NewTicker(max(p.idle/2, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		now := p.now()
		p.stacks.Range(func(_, v any) bool {
			s := v.(*idleStack)
			s.mu.Lock()
			// LIFO: the oldest are at the bottom.
			k := 0
			for k < len(s.conns) && now.Sub(s.conns[k].idleSince) >= p.idle {
				p.discardLocked(s, s.conns[k])
				k++
			}
			if k > 0 {
				n := copy(s.conns, s.conns[k:])
				clear(s.conns[n:])
				s.conns = s.conns[:n]
			}
			s.mu.Unlock()
			return true
		})
	}
}

// Close closes every idle connection and stops the reaper; connections in
// use are closed when their exchange returns them.
func (p *ConnPool) Close() {
	p.once.Do(func() { close(p.stop) })
	p.stacks.Range(func(_, v any) bool {
		s := v.(*idleStack)
		s.mu.Lock()
		for _, uc := range s.conns {
			p.discardLocked(s, uc)
		}
		clear(s.conns)
		s.conns = s.conns[:0]
		s.mu.Unlock()
		return true
	})
}

// Idle returns the number of idle connections to t (for tests and
// metrics).
func (p *ConnPool) Idle(t *upstream.Target) int {
	s := p.stack(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// errNoConnSlot: every connection to the target allowed by
// max_conns_per_target stayed busy for the whole connect timeout.
var errNoConnSlot = fmt.Errorf("%w: max_conns_per_target reached", protocol.ErrOverloaded)

// reserve takes a connection slot of t, waiting up to timeout (0: the
// default connect timeout) when MaxConnsPerTarget is reached, until a
// connection is closed (its slot is then taken) or returned idle (it is
// then handed over instead: idle is non-nil and no slot is taken).
func (p *ConnPool) reserve(t *upstream.Target, timeout time.Duration) (idle *upConn, err error) {
	if p.maxConns == 0 {
		return nil, nil
	}
	s := p.stack(t)
	var deadline <-chan time.Time
	s.mu.Lock()
	for s.open >= p.maxConns {
		if deadline == nil {
			if timeout <= 0 {
				timeout = time.Duration(config.DefaultConnectTimeout)
			}
			tm := time.NewTimer(timeout)
			defer tm.Stop()
			deadline = tm.C
		}
		if s.freed == nil {
			s.freed = make(chan struct{})
		}
		freed := s.freed
		s.waiting++
		s.mu.Unlock()
		select {
		case <-freed:
		case <-deadline:
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
			return nil, errNoConnSlot
		case <-p.stop:
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
			return nil, errNoConnSlot
		}
		s.mu.Lock()
		s.waiting--
		if n := len(s.conns); n > 0 {
			uc := s.conns[n-1]
			s.conns[n-1] = nil
			s.conns = s.conns[:n-1]
			s.mu.Unlock()
			uc.reused = true
			return uc, nil
		}
	}
	s.open++
	s.mu.Unlock()
	return nil, nil
}

// wakeLocked tells the requests waiting for a slot that something changed.
func (s *idleStack) wakeLocked() {
	if s.waiting > 0 && s.freed != nil {
		close(s.freed)
		s.freed = nil
	}
}

// release gives a slot back and wakes the requests waiting for one.
func (p *ConnPool) release(s *idleStack) {
	if p.maxConns == 0 {
		return
	}
	s.mu.Lock()
	p.releaseLocked(s)
	s.mu.Unlock()
}

func (p *ConnPool) releaseLocked(s *idleStack) {
	if p.maxConns == 0 {
		return
	}
	s.open--
	s.wakeLocked()
}

// close closes uc and releases its slot, once. Every connection the
// engine is done with (broken, out of step, not worth keeping) ends here.
func (p *ConnPool) close(uc *upConn) {
	if p.maxConns == 0 {
		if !uc.closed {
			uc.closed = true
			_ = uc.nc.Close()
		}
		return
	}
	s := p.stack(uc.target)
	s.mu.Lock()
	p.discardLocked(s, uc)
	s.mu.Unlock()
}

// discardLocked is close with s (uc's stack) locked.
func (p *ConnPool) discardLocked(s *idleStack, uc *upConn) {
	if uc.closed {
		return
	}
	uc.closed = true
	_ = uc.nc.Close()
	p.releaseLocked(s)
}
