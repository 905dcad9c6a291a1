package listen

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

const limitTestTimeout = 5 * time.Second

// acceptServer accepts on ln, greets each connection with "ok\n" and keeps
// it open until the test ends.
type acceptServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	times []time.Time
	done  chan struct{}
}

func serveAccepts(t *testing.T, ln net.Listener) *acceptServer {
	t.Helper()
	s := &acceptServer{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.times = append(s.times, time.Now())
			s.mu.Unlock()
			_, _ = c.Write([]byte("ok\n"))
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			_ = c.Close()
		}
	})
	return s
}

func (s *acceptServer) conn(i int) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[i]
}

// dialGreeted dials addr (from local, if set) and reports whether the server
// greeted the connection (accepted) or closed it (refused).
func dialGreeted(t *testing.T, addr, local string) (bool, net.Conn) {
	t.Helper()
	d := net.Dialer{Timeout: limitTestTimeout}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(limitTestTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection neither greeted nor closed within %v", limitTestTimeout)
	}
	return line == "ok\n", c
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestAdmitListenerMaxConns(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	ln, err := AdmitListener(raw, config.ListenerLimits{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := serveAccepts(t, ln)
	addr := raw.Addr().String()
	for i, want := range []bool{true, true, false} {
		if got, _ := dialGreeted(t, addr, ""); got != want {
			t.Fatalf("connection %d: accepted=%v, want %v", i+1, got, want)
		}
	}
	// Closing an accepted connection twice frees exactly one slot.
	first := s.conn(0)
	_ = first.Close()
	_ = first.Close()
	if got, _ := dialGreeted(t, addr, ""); !got {
		t.Fatal("after a close: refused, want accepted")
	}
	if got, _ := dialGreeted(t, addr, ""); got {
		t.Fatal("a double close released two slots")
	}
}

func TestPerIPListener(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	ln, err := PerIPListener(raw, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := serveAccepts(t, ln)
	addr := raw.Addr().String()
	steps := []struct {
		name, from string
		want       bool
	}{
		{"first from .2", "127.0.0.2", true},
		{"second from .2", "127.0.0.2", false},
		{"first from .3", "127.0.0.3", true},
		{"second from .3", "127.0.0.3", false},
	}
	for _, st := range steps {
		if got, _ := dialGreeted(t, addr, st.from); got != st.want {
			t.Fatalf("%s: accepted=%v, want %v", st.name, got, st.want)
		}
	}
	_ = s.conn(0).Close() // the one from .2
	_ = s.conn(0).Close()
	if got, _ := dialGreeted(t, addr, "127.0.0.2"); !got {
		t.Fatal("after close: .2 refused, want accepted")
	}
	if got, _ := dialGreeted(t, addr, "127.0.0.2"); got {
		t.Fatal("a double close released two slots of .2")
	}
}

func TestAdmitListenerAcceptRate(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	const perSecond = 20.0
	ln, err := AdmitListener(raw, config.ListenerLimits{AcceptRate: perSecond, AcceptBurst: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := serveAccepts(t, ln)
	const n = 4
	for i := range n {
		if got, _ := dialGreeted(t, raw.Addr().String(), ""); !got {
			t.Fatalf("connection %d refused; the rate limit delays, it does not refuse", i+1)
		}
	}
	s.mu.Lock()
	span := s.times[n-1].Sub(s.times[0])
	s.mu.Unlock()
	// n-1 refills of 1/perSecond each; allow some timer slack below.
	if want := time.Duration(float64(n-1) / perSecond * float64(time.Second) * 0.8); span < want {
		t.Fatalf("%d accepts took %v, want at least %v", n, span, want)
	}
}

func TestAdmitListenerCloseEndsTokenWait(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	ln, err := AdmitListener(raw, config.ListenerLimits{AcceptRate: 0.001, AcceptBurst: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := serveAccepts(t, ln)
	if got, _ := dialGreeted(t, raw.Addr().String(), ""); !got {
		t.Fatal("first connection refused")
	}
	// The loop now waits ~1000s for a token; Close must end that wait.
	_ = ln.Close()
	select {
	case <-s.done:
	case <-time.After(limitTestTimeout):
		t.Fatal("Accept still waiting for a token after Close")
	}
}

// A hijacked connection (a WebSocket, say) counts until it is closed.
func TestAdmitListenerHijackedCounts(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	ln, err := AdmitListener(raw, config.ListenerLimits{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n")
		_ = brw.Flush()
		<-release
		_ = c.Close()
	}), ReadHeaderTimeout: limitTestTimeout}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	addr := raw.Addr().String()
	c, err := net.DialTimeout("tcp", addr, limitTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(limitTestTimeout))
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if refusedNow(t, addr) != true {
		t.Fatal("second connection accepted while the hijacked one is open")
	}
	close(release)
	deadline := time.Now().Add(limitTestTimeout)
	for refusedNow(t, addr) {
		if time.Now().After(deadline) {
			t.Fatal("slot not released after the hijacked connection closed")
		}
	}
}

// refusedNow reports whether the server closes a new connection without
// answering a request on it.
func refusedNow(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, limitTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(limitTestTimeout))
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
		return false
	}
	return true
}

func TestLimitListenersValidate(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	defer raw.Close()
	cases := []struct {
		name   string
		limits config.ListenerLimits
		same   bool // no limit: the listener comes back unchanged
		err    bool
	}{
		{"none", config.ListenerLimits{}, true, false},
		{"negative max", config.ListenerLimits{MaxConns: -1}, false, true},
		{"negative rate", config.ListenerLimits{AcceptRate: -1}, false, true},
		{"rate", config.ListenerLimits{AcceptRate: 1.5}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := AdmitListener(raw, tc.limits)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && (ln == raw) != tc.same {
				t.Fatalf("unchanged = %v, want %v", ln == raw, tc.same)
			}
			if tc.err && !errors.Is(err, ErrInvalidLimits) {
				t.Fatalf("err = %v, want ErrInvalidLimits", err)
			}
		})
	}
	if _, err := PerIPListener(raw, -1); !errors.Is(err, ErrInvalidLimits) {
		t.Fatalf("PerIPListener(-1): %v", err)
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr string
		want string
	}{
		{"192.0.2.7:80", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := clientKey(a)
			if !ok || got.String() != tc.want {
				t.Fatalf("clientKey(%s) = %v %v, want %s", tc.addr, got, ok, tc.want)
			}
		})
	}
}
