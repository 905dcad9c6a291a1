package engine

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// okServer serves "ok" to every request, with the given idle timeout.
func okServer(t *testing.T, idle time.Duration) (*Server, string) {
	t.Helper()
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		_ = w.WriteResponse(200, "text/plain", []byte("ok"))
	})
	return startServer(t, func(*Request) (Handler, bool) { return h, true }, idle)
}

// startServer serves dispatch on a loopback listener with the given idle
// timeout (the other timeouts: testDeadline) until the test ends.
func startServer(t *testing.T, dispatch func(*Request) (Handler, bool), idle time.Duration) (*Server, string) {
	t.Helper()
	srv, err := NewServer(Config{
		Dispatch:      dispatch,
		HeaderTimeout: testDeadline,
		IdleTimeout:   idle,
		BodyTimeout:   testDeadline,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, ln.Addr().String()
}

// resumes counts fresh goroutines taking over an idle wait, while
// countResumes is installed.
var resumes atomic.Int32

// countResumes makes resumes count the moves of idle waits.
func countResumes(t *testing.T) {
	resumes.Store(0)
	hook := func(*conn) { resumes.Add(1) }
	testBeforeResume.Store(&hook)
	t.Cleanup(func() { testBeforeResume.Store(nil) })
}

// idleWaitMoved returns a condition: the idle wait has moved to a fresh
// goroutine n times (countResumes) and the goroutine it moved from has
// ended, so exactly one runs the connection's loop. The tests using it
// are not parallel, so the only engine connections are their own.
func idleWaitMoved(n int32) func() bool {
	return func() bool {
		if resumes.Load() < n {
			return false
		}
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "(*conn).loop(") == 1
	}
}

// TestIdleWaitMoves checks that a connection whose idle wait moved to a
// fresh goroutine (to shed the stack grown serving a request) still
// serves requests, still ends at its idle timeout, and still closes on
// Shutdown. Not parallel: see idleWaitMoved.
func TestIdleWaitMoves(t *testing.T) {
	tests := []struct {
		name string
		idle time.Duration
		run  func(t *testing.T, srv *Server, c *client)
	}{
		{
			name: "requests after each move are served",
			idle: testDeadline,
			run: func(t *testing.T, _ *Server, c *client) {
				for i := range 3 {
					waitFor(t, "the idle wait to move", idleWaitMoved(int32(i+1)))
					c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
					if res, body := c.read("GET"); res.StatusCode != 200 || body != "ok" {
						t.Fatalf("request %d after the move: %d %q", i+2, res.StatusCode, body)
					}
				}
			},
		},
		{
			name: "pipelined requests after the move",
			idle: testDeadline,
			run: func(t *testing.T, _ *Server, c *client) {
				waitFor(t, "the idle wait to move", idleWaitMoved(1))
				c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
				for range 2 {
					if res, _ := c.read("GET"); res.StatusCode != 200 {
						t.Fatalf("status %d", res.StatusCode)
					}
				}
			},
		},
		{
			name: "idle timeout still ends the connection",
			idle: 300 * time.Millisecond,
			run: func(t *testing.T, _ *Server, c *client) {
				start := time.Now()
				if !c.closed() {
					t.Fatal("connection not closed at the idle timeout")
				}
				// Measured from after the response: at least the idle
				// timeout minus the deadline slack, and not much later.
				if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
					t.Fatalf("closed after %v, want about 300ms", d)
				}
			},
		},
		{
			name: "shutdown closes a moved idle connection",
			idle: testDeadline,
			run: func(t *testing.T, srv *Server, c *client) {
				waitFor(t, "the idle wait to move", idleWaitMoved(1))
				ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				if !c.closed() {
					t.Fatal("connection still open after Shutdown")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			countResumes(t)
			srv, addr := okServer(t, tt.idle)
			c := dial(t, addr)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, body := c.read("GET"); res.StatusCode != 200 || body != "ok" {
				t.Fatalf("first request: %d %q", res.StatusCode, body)
			}
			tt.run(t, srv, c)
		})
	}
}

// TestIdleWaitMoveKeepsEarlyBytes sends the next request in the window
// between the old goroutine's wait ending and the fresh one taking over:
// the poller's readiness mark for those bytes is cleared when the fresh
// goroutine starts its read, so one that parked without looking would
// wait until the idle timeout with a request in its socket.
func TestIdleWaitMoveKeepsEarlyBytes(t *testing.T) {
	var cp atomic.Pointer[client]
	hook := func(sc *conn) {
		_, _ = io.WriteString(cp.Load().c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		// Wait until the bytes are in the server's socket, so the
		// poller has seen them before the fresh goroutine reads.
		deadline := time.Now().Add(testDeadline)
		for {
			var ready bool
			_ = sc.io.rc.Control(func(fd uintptr) { ready = peekReady(fd, &sc.peekb) })
			if ready || time.Now().After(deadline) {
				return
			}
			runtime.Gosched()
		}
	}
	testBeforeResume.Store(&hook)
	t.Cleanup(func() { testBeforeResume.Store(nil) })
	_, addr := okServer(t, time.Minute)
	c := dial(t, addr)
	cp.Store(c)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if res, body := c.read("GET"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("first request: %d %q", res.StatusCode, body)
	}
	// The second request is sent by the hook, during the move.
	if res, body := c.read("GET"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("request sent during the move: %d %q", res.StatusCode, body)
	}
}
