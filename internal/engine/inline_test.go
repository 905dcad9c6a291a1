package engine

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestInlineServingMixes sends, pipelined on one connection, requests
// that the wait between requests serves inside its read callback
// (bodyless GETs) mixed with ones it must leave to the loop (a body, a
// head cut between writes, Connection: close): every answer arrives, in
// order, and the connection ends where it should.
func TestInlineServingMixes(t *testing.T) {
	r := newRig(t, backend(t, echo), rigOptions{})
	get := func(p string) string { return "GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n" }
	post := func(p, body string) string {
		return "POST " + p + " HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	type want struct{ method, uri, body string }
	tests := []struct {
		name   string
		writes []string
		want   []want
		closed bool
	}{
		{
			name:   "body between bodyless",
			writes: []string{get("/a") + post("/b", "hello") + get("/c")},
			want:   []want{{"GET", "/a", ""}, {"POST", "/b", "hello"}, {"GET", "/c", ""}},
		},
		{
			name:   "chunked body after bodyless",
			writes: []string{get("/a") + "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n" + get("/c")},
			want:   []want{{"GET", "/a", ""}, {"POST", "/b", "xyz"}, {"GET", "/c", ""}},
		},
		{
			name:   "head cut after a served request",
			writes: []string{get("/a") + "GET /b HT", "TP/1.1\r\nHost: h\r\n\r\n" + get("/c")},
			want:   []want{{"GET", "/a", ""}, {"GET", "/b", ""}, {"GET", "/c", ""}},
		},
		{
			name:   "close after bodyless",
			writes: []string{get("/a") + "GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
			want:   []want{{"GET", "/a", ""}, {"GET", "/b", ""}},
			closed: true,
		},
		{
			name:   "http/1.0 ends the connection",
			writes: []string{"GET /a HTTP/1.0\r\n\r\n"},
			want:   []want{{"GET", "/a", ""}},
			closed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, r.addr)
			for i, w := range tt.writes {
				c.send(w)
				if i == 0 && len(tt.writes) > 1 {
					// The first answer proves the first write was served
					// before the rest of the cut head is sent.
					res, _ := c.read(tt.want[0].method)
					if got := res.Header.Get("X-Uri"); got != tt.want[0].uri {
						t.Fatalf("response 0 answers %q, want %q", got, tt.want[0].uri)
					}
				}
			}
			from := 0
			if len(tt.writes) > 1 {
				from = 1
			}
			for i, w := range tt.want[from:] {
				res, body := c.read(w.method)
				if res.StatusCode != 200 || res.Header.Get("X-Method") != w.method ||
					res.Header.Get("X-Uri") != w.uri || body != w.body {
					t.Fatalf("response %d: %d %s %s %q, want %s %s %q", from+i, res.StatusCode,
						res.Header.Get("X-Method"), res.Header.Get("X-Uri"), body, w.method, w.uri, w.body)
				}
			}
			if tt.closed && !c.closed() {
				t.Fatal("connection still open")
			}
		})
	}
}

// TestCloseDuringInlineExchange: Close must return at once while a
// request is being served inside the connection's read callback, where
// the descriptor is held until the handler returns (closing it from
// Close directly would wait for the handler). The connection is closed
// once the handler is done.
func TestCloseDuringInlineExchange(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		close(entered)
		<-release
		_ = w.WriteResponse(200, "text/plain", []byte("late"))
	})
	srv, addr := startServer(t, func(*Request) (Handler, bool) { return h, true }, testDeadline)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	select {
	case <-entered:
	case <-time.After(testDeadline):
		t.Fatal("handler not reached")
	}
	closed := make(chan struct{})
	go func() { _ = srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(testDeadline):
		close(release)
		t.Fatal("Close waited for the handler")
	}
	close(release)
	// The late answer cannot be written to a closed connection.
	b, err := io.ReadAll(c.c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading after Close: %v", err)
	}
	if strings.Contains(string(b), "late") {
		t.Fatalf("answer written after Close: %q", b)
	}
}

// TestInlineShutdownAfterServing: a Shutdown while a connection waits
// inside its read callback after serving (it never left the callback)
// still wakes and closes it, and one arriving mid-exchange ends the
// connection after the answer.
func TestInlineShutdownAfterServing(t *testing.T) {
	srv, addr := okServer(t, testDeadline)
	conns := make([]*client, 3)
	for i := range conns {
		conns[i] = dial(t, addr)
		// Two requests in a row: the second is served by the callback
		// that read the first one's successor without leaving.
		for j := range 2 {
			conns[i].send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, body := conns[i].read("GET"); res.StatusCode != 200 || body != "ok" {
				t.Fatalf("conn %d request %d: %d %q", i, j, res.StatusCode, body)
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	for i, c := range conns {
		if !c.closed() {
			t.Fatalf("conn %d still open after Shutdown", i)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestCloseServesNothingMore: bytes the client sent before Close are not
// served after it (shutting the read side keeps them readable). The
// request is sent, and Close called, while the idle wait moves to a
// fresh goroutine (testBeforeResume), so it is read after Close; whether
// the descriptor is already closed then is up to the scheduler, so the
// scenario runs several times.
func TestCloseServesNothingMore(t *testing.T) {
	for i := range 10 {
		closeDuringMove(t, i)
	}
}

// countingServer serves "ok" and counts the requests it served.
func countingServer(t *testing.T, served *atomic.Int32) (*Server, string) {
	t.Helper()
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		served.Add(1)
		_ = w.WriteResponse(200, "text/plain", []byte("ok"))
	})
	return startServer(t, func(*Request) (Handler, bool) { return h, true }, time.Minute)
}

func closeDuringMove(t *testing.T, i int) {
	var served atomic.Int32
	srv, addr := countingServer(t, &served)
	c := dial(t, addr)
	hook := func(sc *conn) {
		_, _ = io.WriteString(c.c, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
		deadline := time.Now().Add(testDeadline)
		for {
			var ready bool
			_ = sc.io.rc.Control(func(fd uintptr) { ready = peekReady(fd, &sc.peekb) })
			if ready || time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
		_ = srv.Close()
	}
	testBeforeResume.Store(&hook)
	defer testBeforeResume.Store(nil)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
	if res, _ := c.read("GET"); res.StatusCode != 200 {
		t.Fatalf("run %d: first request: %d", i, res.StatusCode)
	}
	if !c.closed() {
		t.Fatalf("run %d: connection still open after Close", i)
	}
	if n := served.Load(); n != 1 {
		t.Fatalf("run %d: %d requests served, want 1 (the one read after Close was served)", i, n)
	}
}

// TestShutdownRunsARoutedHandler: a request the read callback routed but
// left to the loop (it has a body) is served even when a Shutdown lands
// in between: Dispatch's handler must run (it holds the runtime until it
// does), and the request was read before the Shutdown.
func TestShutdownRunsARoutedHandler(t *testing.T) {
	// Set after the server starts; the race detector cannot see that the
	// request (and so Dispatch) comes after that.
	var srv atomic.Pointer[Server]
	h := HandlerFunc(func(w *ResponseWriter, r *Request) {
		b, _ := io.ReadAll(r.Body())
		_ = w.WriteResponse(200, "text/plain", b)
	})
	dispatch := func(r *Request) (Handler, bool) {
		if r.Method == "POST" {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
				defer cancel()
				_ = srv.Load().Shutdown(ctx)
			}()
			deadline := time.Now().Add(testDeadline)
			for !r.c.closing.Load() && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		}
		return h, true
	}
	s, addr := startServer(t, dispatch, testDeadline)
	srv.Store(s)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody")
	if res, body := c.read("POST"); res.StatusCode != 200 || body != "body" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if !c.closed() {
		t.Fatal("connection open after Shutdown")
	}
}
