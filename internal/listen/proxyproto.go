package listen

// PROXY protocol, versions 1 (text) and 2 (binary), as specified in HAProxy's
// doc/proxy-protocol.txt (revision 2020/03/05; "spec §x" below cites it).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Sentinel errors of the PROXY protocol; the connection is closed in each case.
var (
	// ErrProxyHeader: the header does not follow the specification.
	ErrProxyHeader = errors.New("listen: malformed PROXY protocol header")
	// ErrProxyUntrusted: a peer outside trusted_from sent a PROXY header
	// (spec §2: accepting it would let anyone spoof their address).
	ErrProxyUntrusted = errors.New("listen: PROXY protocol header from an untrusted peer")
	// ErrProxyMissing: a trusted peer sent no header although one is required.
	ErrProxyMissing = errors.New("listen: PROXY protocol header required but missing")
)

// DefaultProxyHeaderTimeout bounds the wait for a trusted peer's first bytes
// when ProxyListener is given no timeout. The spec (§2) asks for "at least 3
// seconds to cover a TCP retransmit".
const DefaultProxyHeaderTimeout = 5 * time.Second

const (
	// proxyV1MaxLine is the longest v1 line, CRLF included (spec §2.1).
	proxyV1MaxLine = 107
	// proxyV2Fixed is the fixed part of a v2 header (spec §2.2).
	proxyV2Fixed = 16
	// proxyBufSize holds a whole v1 line or a v2 header with UNIX addresses.
	proxyBufSize = 256
)

var (
	proxyV1Sig = []byte("PROXY ")
	// spec §2.2: the 12-byte v2 signature, with a NUL at the 5th position.
	proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// ProxyHeader is what a PROXY protocol header says about a connection.
type ProxyHeader struct {
	// Version is 1 or 2.
	Version int
	// Local: the header carries no client address to use (v2 LOCAL, v1
	// UNKNOWN, or a family or transport other than TCP/UDP over IPv4/IPv6);
	// the connection's own addresses stand (spec §2.1, §2.2).
	Local bool
	// Source and Destination are the original connection's endpoints;
	// valid only when !Local. They are as sent: an IPv4-mapped IPv6
	// address stays one (consumers unmap, as clientKey does).
	Source, Destination netip.AddrPort
}

// errProxyNeedMore: the buffer ends before the header does.
var errProxyNeedMore = errors.New("listen: incomplete PROXY protocol header")

// parseProxyV1 parses one v1 line, which must end in its CRLF (spec §2.1).
func parseProxyV1(line []byte) (ProxyHeader, error) {
	h := ProxyHeader{Version: 1}
	if len(line) > proxyV1MaxLine || !bytes.HasPrefix(line, proxyV1Sig) || !bytes.HasSuffix(line, []byte("\r\n")) {
		return h, ErrProxyHeader
	}
	body := line[len(proxyV1Sig) : len(line)-2]
	// "The receiver must not tolerate a single CR or LF character to end
	// the line" (spec §2.1).
	if bytes.ContainsAny(body, "\r\n") {
		return h, ErrProxyHeader
	}
	// "UNKNOWN": the receiver must ignore anything before the CRLF.
	if bytes.Equal(body, []byte("UNKNOWN")) || bytes.HasPrefix(body, []byte("UNKNOWN ")) {
		h.Local = true
		return h, nil
	}
	// Fields are separated by exactly one space.
	f := bytes.Split(body, []byte(" "))
	if len(f) != 5 {
		return h, ErrProxyHeader
	}
	var v6 bool
	switch string(f[0]) {
	case "TCP4":
	case "TCP6":
		v6 = true
	default:
		return h, ErrProxyHeader
	}
	src, err1 := parseProxyV1Addr(f[1], v6)
	dst, err2 := parseProxyV1Addr(f[2], v6)
	sport, err3 := parseProxyV1Port(f[3])
	dport, err4 := parseProxyV1Port(f[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return h, ErrProxyHeader
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Destination = netip.AddrPortFrom(dst, dport)
	return h, nil
}

// parseProxyV1Addr parses an address of the announced family. netip refuses
// leading zeros in IPv4 octets, as spec §2.1 requires.
func parseProxyV1Addr(b []byte, v6 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	switch {
	case err != nil:
		return a, err
	case a.Zone() != "" || a.Is4() == v6:
		return a, ErrProxyHeader
	}
	return a, nil
}

// parseProxyV1Port: decimal in [0, 65535], no leading zeros (spec §2.1).
func parseProxyV1Port(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, ErrProxyHeader
	}
	var n uint32
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrProxyHeader
		}
		n = n*10 + uint32(c-'0')
	}
	if n > 65535 {
		return 0, ErrProxyHeader
	}
	return uint16(n), nil
}

// proxyV2AddrLen is the address block length of a v2 family (spec §2.2);
// -1 for an invalid family.
func proxyV2AddrLen(family byte) int {
	switch family {
	case 0x0: // AF_UNSPEC
		return 0
	case 0x1: // AF_INET: 2*4 + 2*2
		return 12
	case 0x2: // AF_INET6: 2*16 + 2*2
		return 36
	case 0x3: // AF_UNIX: 2*108
		return 216
	}
	return -1
}

// parseProxyV2 parses a v2 header at the start of b and returns the header's
// whole length (16 + the length field; the TLVs after the addresses are
// counted but not read). b must hold the fixed part and the address block;
// it need not hold the TLVs. errProxyNeedMore when it is shorter.
func parseProxyV2(b []byte) (ProxyHeader, int, error) {
	h := ProxyHeader{Version: 2}
	if len(b) < proxyV2Fixed {
		if !bytes.HasPrefix(proxyV2Sig, b[:min(len(b), len(proxyV2Sig))]) {
			return h, 0, ErrProxyHeader
		}
		return h, 0, errProxyNeedMore
	}
	if !bytes.Equal(b[:12], proxyV2Sig) {
		return h, 0, ErrProxyHeader
	}
	verCmd, famProto := b[12], b[13]
	total := proxyV2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	// The version must be 2; commands other than LOCAL (0) and PROXY (1),
	// families past AF_UNIX and transports past DGRAM must be refused.
	family, proto := famProto>>4, famProto&0x0f
	addrLen := proxyV2AddrLen(family)
	if verCmd>>4 != 2 || verCmd&0x0f > 1 || addrLen < 0 || proto > 2 {
		return h, 0, ErrProxyHeader
	}
	if verCmd&0x0f == 0 {
		// LOCAL: "the receiver must ... use the real connection
		// endpoints and discard the protocol block including the family".
		h.Local = true
		return h, total, nil
	}
	if total-proxyV2Fixed < addrLen {
		return h, 0, ErrProxyHeader
	}
	// UNSPEC transport or family, and AF_UNIX, carry no address we use:
	// fall back to the real endpoints, as the spec allows for the valid
	// combinations a receiver does not implement.
	if proto == 0 || (family != 0x1 && family != 0x2) {
		h.Local = true
		return h, total, nil
	}
	if len(b) < proxyV2Fixed+addrLen {
		return h, 0, errProxyNeedMore
	}
	a := b[proxyV2Fixed:]
	var src, dst netip.Addr
	var ports []byte
	if family == 0x1 {
		src = netip.AddrFrom4([4]byte(a[0:4]))
		dst = netip.AddrFrom4([4]byte(a[4:8]))
		ports = a[8:12]
	} else {
		src = netip.AddrFrom16([16]byte(a[0:16]))
		dst = netip.AddrFrom16([16]byte(a[16:32]))
		ports = a[32:36]
	}
	h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2]))
	h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4]))
	return h, total, nil
}

// sniffProxy reads from br until its first bytes either begin a PROXY header
// (it returns 1 or 2) or cannot (0). It consumes nothing, and reads no more
// than the connection has already delivered plus what it needs to decide:
// a client that sends "GET" is not made to wait for 12 bytes.
func sniffProxy(br *bufio.Reader) (int, error) {
	n := max(1, min(br.Buffered(), len(proxyV2Sig)))
	for {
		b, err := br.Peek(n)
		v1 := bytes.HasPrefix(proxyV1Sig, b[:min(len(b), len(proxyV1Sig))])
		v2 := bytes.HasPrefix(proxyV2Sig, b[:min(len(b), len(proxyV2Sig))])
		switch {
		case v1 && len(b) >= len(proxyV1Sig):
			return 1, nil
		case v2 && len(b) >= len(proxyV2Sig):
			return 2, nil
		case !v1 && !v2:
			return 0, nil
		case err != nil:
			return 0, err
		}
		n = min(max(len(b)+1, br.Buffered()), len(proxyV2Sig))
	}
}

// readProxyHeader reads a PROXY header from br if there is one: ok is false
// when the first bytes cannot start one (nothing is consumed then).
func readProxyHeader(br *bufio.Reader) (h ProxyHeader, ok bool, err error) {
	v, err := sniffProxy(br)
	if err != nil || v == 0 {
		return h, false, err
	}
	if v == 1 {
		// "If the CRLF sequence is not found in the first 107
		// characters, the receiver should declare the line invalid."
		n := max(len(proxyV1Sig)+1, br.Buffered())
		for {
			b, err := br.Peek(min(n, proxyV1MaxLine))
			if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
				h, perr := parseProxyV1(b[:i+2])
				if perr != nil {
					return h, true, perr
				}
				_, err = br.Discard(i + 2)
				return h, true, err
			}
			if len(b) >= proxyV1MaxLine {
				return h, true, ErrProxyHeader
			}
			if err != nil {
				return h, true, fmt.Errorf("%w: %w", ErrProxyHeader, err)
			}
			n = max(len(b)+1, br.Buffered())
		}
	}
	b, err := br.Peek(proxyV2Fixed)
	if err != nil {
		return h, true, fmt.Errorf("%w: %w", ErrProxyHeader, err)
	}
	if addrLen := proxyV2AddrLen(b[13] >> 4); addrLen > 0 {
		need := proxyV2Fixed + min(addrLen, int(binary.BigEndian.Uint16(b[14:16])))
		if b, err = br.Peek(need); err != nil {
			return h, true, fmt.Errorf("%w: %w", ErrProxyHeader, err)
		}
	}
	h, total, err := parseProxyV2(b)
	if err != nil {
		return h, true, err
	}
	// Skip the TLVs (spec §2.2.x): Gatehouse uses none of them.
	if _, err := br.Discard(total); err != nil {
		return h, true, fmt.Errorf("%w: %w", ErrProxyHeader, err)
	}
	return h, true, nil
}

// ProxyOption configures ProxyListener.
type ProxyOption func(*proxyOptions)

type proxyOptions struct{ log *slog.Logger }

// WithProxyLogger makes ProxyListener log refused connections (Info for a
// header from an untrusted peer, Debug otherwise). Default: no logging.
func WithProxyLogger(log *slog.Logger) ProxyOption {
	return func(o *proxyOptions) {
		if log != nil {
			o.log = log
		}
	}
}

// ProxyListener wraps l to accept PROXY protocol headers (v1 and v2) from
// the peers in cfg.TrustedFrom (addresses or CIDR networks). It must wrap the
// raw TCP listener (or AdmitListener over it): the header comes before TLS
// and before any HTTP byte.
//
// A trusted peer's header is read on its own goroutine, within
// headerTimeout (DefaultProxyHeaderTimeout if zero), before Accept returns
// the connection; so a peer that sends nothing never holds up Accept, and
// RemoteAddr of a returned connection is already the client's address from
// the header (a LOCAL / UNKNOWN header keeps the real one). LocalAddr stays
// the socket's own. A trusted peer that sends no header is accepted as is
// unless cfg.Required; a malformed header, or none when required, closes
// the connection. Connections from untrusted peers are returned at once; the
// first Read of one that starts with a PROXY signature closes it and fails
// with ErrProxyUntrusted. Header bytes are never seen by the reader.
//
// The error is an invalid trusted_from entry or negative headerTimeout.
// Close closes l and every connection still in its header. Safe for
// concurrent use.
func ProxyListener(l net.Listener, cfg config.ProxyProtocol, headerTimeout time.Duration, opts ...ProxyOption) (net.Listener, error) {
	if headerTimeout < 0 {
		return nil, fmt.Errorf("listen: negative PROXY header timeout %v", headerTimeout)
	}
	if headerTimeout == 0 {
		headerTimeout = DefaultProxyHeaderTimeout
	}
	trusted, err := parseTrusted(cfg.TrustedFrom)
	if err != nil {
		return nil, err
	}
	o := proxyOptions{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	p := &proxyListener{
		Listener: l, trusted: trusted, required: cfg.Required, timeout: headerTimeout, log: o.log,
		conns: make(chan net.Conn), closed: make(chan struct{}), done: make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	go p.acceptLoop()
	return p, nil
}

// parseTrusted parses trusted_from entries: CIDR networks or single addresses.
func parseTrusted(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("listen: proxy_protocol.trusted_from %q is not an IP address or CIDR network", s)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

type proxyListener struct {
	net.Listener
	trusted  []netip.Prefix
	required bool
	timeout  time.Duration
	log      *slog.Logger

	conns     chan net.Conn
	closed    chan struct{} // Close was called
	closeOnce sync.Once
	done      chan struct{} // the accept loop ended with err
	err       error

	mu      sync.Mutex
	pending map[net.Conn]struct{} // trusted connections in their header
}

func (p *proxyListener) isTrusted(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap().WithZone("")
	for _, pr := range p.trusted {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// acceptLoop accepts on the inner listener until it fails for good.
func (p *proxyListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := p.Listener.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if !errors.Is(err, net.ErrClosed) && errors.As(err, &te) && te.Temporary() {
				// Out of descriptors, say: retry as net/http's Serve does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-p.closed:
				}
			}
			p.err = err
			close(p.done)
			return
		}
		backoff = 0
		if !p.isTrusted(c.RemoteAddr()) {
			p.deliver(&proxyConn{Conn: c, untrusted: true, log: p.log})
			continue
		}
		p.mu.Lock()
		p.pending[c] = struct{}{}
		p.mu.Unlock()
		go p.handshake(c)
	}
}

// handshake reads a trusted peer's header and hands the connection over.
func (p *proxyListener) handshake(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.pending, c)
		p.mu.Unlock()
	}()
	pc := &proxyConn{Conn: c, br: bufio.NewReaderSize(c, proxyBufSize), log: p.log}
	_ = c.SetReadDeadline(time.Now().Add(p.timeout))
	h, ok, err := readProxyHeader(pc.br)
	if err == nil && !ok && p.required {
		err = ErrProxyMissing
	}
	if err == nil {
		err = c.SetReadDeadline(time.Time{}) // the reader sets its own
	}
	if err != nil {
		p.log.Debug("PROXY protocol: connection refused", "remote", c.RemoteAddr().String(), "error", err)
		_ = c.Close()
		return
	}
	if ok && !h.Local {
		pc.remote = net.TCPAddrFromAddrPort(h.Source)
	}
	p.deliver(pc)
}

func (p *proxyListener) deliver(c net.Conn) {
	select {
	case p.conns <- c:
	case <-p.closed:
		_ = c.Close()
	}
}

// Accept returns the next connection whose header, if any, has been read.
func (p *proxyListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-p.done:
		return nil, p.err
	}
}

// Close closes the inner listener and the connections still in their header.
func (p *proxyListener) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	err := p.Listener.Close()
	p.mu.Lock()
	for c := range p.pending {
		_ = c.Close()
	}
	p.mu.Unlock()
	return err
}

// proxyConn serves the bytes buffered while the header was read, then reads
// the connection directly. It has no SyscallConn on purpose: a reader that
// went to the descriptor would miss the buffered bytes.
type proxyConn struct {
	net.Conn
	remote net.Addr // from the header; nil: the socket's own
	log    *slog.Logger

	mu        sync.Mutex // serialises Read (and the untrusted check)
	br        *bufio.Reader
	untrusted bool // the first Read must refuse a PROXY header
}

// RemoteAddr is the client address from the PROXY header, or the socket's.
func (c *proxyConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// Read implements net.Conn.
func (c *proxyConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.untrusted {
		if c.br == nil {
			c.br = bufio.NewReaderSize(c.Conn, proxyBufSize)
		}
		v, err := sniffProxy(c.br)
		if err != nil {
			if c.br.Buffered() == 0 {
				return 0, err
			}
			// Too short to be a header; deliver what came.
		} else if v != 0 {
			c.log.Info("PROXY protocol header from an untrusted peer: connection closed",
				"remote", c.Conn.RemoteAddr().String())
			_ = c.Conn.Close()
			return 0, ErrProxyUntrusted
		}
		c.untrusted = false
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil // drained: read directly from now on
	}
	return c.Conn.Read(p)
}

// ReadFrom keeps the inner connection's sendfile/splice path reachable.
func (c *proxyConn) ReadFrom(src io.Reader) (int64, error) { return readFrom(c.Conn, src) }

// CloseWrite half-closes the inner connection if it can.
func (c *proxyConn) CloseWrite() error { return closeWrite(c.Conn) }
