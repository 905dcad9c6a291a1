package engine

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// testDeadline bounds every network step of a test.
const testDeadline = 5 * time.Second

// rigOptions tune a test proxy.
type rigOptions struct {
	maxConns     int
	writeTimeout time.Duration
	timeouts     Timeouts
	trusted      []string
	idHeader     string
	retries      config.Retries // the route's retry policy (zero: defaults)
}

// rig is an engine Server with the native proxy in front of one backend,
// and a net/http server for handed-off connections:
// paths under /handoff are handed off.
type rig struct {
	addr  string
	srv   *Server
	conns *ConnPool
	pool  *upstream.Pool
}

func newRig(t testing.TB, backend string, o rigOptions) *rig {
	t.Helper()
	pool, err := upstream.NewPool("be", config.Upstream{Targets: []string{backend}}, upstream.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conns, err := NewConnPool(PoolOptions{MaxConnsPerTarget: o.maxConns})
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := protocol.NewTrustedSet(o.trusted)
	if err != nil {
		t.Fatal(err)
	}
	if o.idHeader == "" {
		o.idHeader = "X-Request-Id"
	}
	ph, err := NewProxyHandler(ProxyOptions{Pool: pool, Conns: conns, PreserveHost: true,
		Timeouts: o.timeouts, Trusted: trusted, RequestIDHeader: o.idHeader,
		Retries: upstream.NewRetryPolicy(o.retries)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ho := NewHandoffListener(ln.Addr())
	srv, err := NewServer(Config{
		Dispatch: func(r *Request) (Handler, bool) {
			if strings.HasPrefix(r.Path, "/handoff") {
				return nil, false
			}
			r.Path = protocol.CleanPath(r.Path)
			r.ID = r.GenerateID() // as the runtime does: no allocation
			return ph, true
		},
		Handoff:       ho,
		HeaderTimeout: testDeadline,
		IdleTimeout:   testDeadline,
		BodyTimeout:   testDeadline,
		WriteTimeout:  o.writeTimeout,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", "net/http")
		_, _ = io.WriteString(w, "handed off "+r.URL.Path)
	})}
	// In Gatehouse the handed-off connections are served behind the
	// framing guard (internal/listen wires it; tested there).
	go func() { _ = hs.Serve(ho) }()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = hs.Close()
		_ = ho.Close()
		conns.Close()
	})
	return &rig{addr: ln.Addr().String(), srv: srv, conns: conns, pool: pool}
}

// client is a raw HTTP/1.1 client connection.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response (for method) with its whole body.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	res, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading body: %v", err)
	}
	return res, string(b)
}

// closed reports whether the server closed the connection (EOF next).
func (c *client) closed() bool {
	_, err := c.br.ReadByte()
	return err != nil
}

// serveConns listens on 127.0.0.1 and runs serve on each accepted
// connection in its own goroutine, closing it after; the listener closes
// at cleanup. The raw backends of the tests are built on it.
func serveConns(tb testing.TB, serve func(c net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// backend starts a real HTTP server on 127.0.0.1.
func backend(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// echo reports what the backend received in response fields and body.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h := w.Header()
	h.Set("X-Method", r.Method)
	h.Set("X-Uri", r.RequestURI)
	h.Set("X-Host", r.Host)
	h.Set("X-Proto", r.Proto)
	h.Set("X-Te", strings.Join(r.TransferEncoding, ","))
	h.Set("X-Remote", r.RemoteAddr)
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Request-Id", "Te", "Expect"} {
		h.Set("X-Got-"+k, strings.Join(r.Header[k], "|"))
	}
	var names []string
	for k := range r.Header {
		names = append(names, k)
	}
	h.Set("X-Names", strings.Join(sortStrings(names), ","))
	_, _ = w.Write(b)
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// waitFor polls cond until it holds or the test deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronising
	}
}
