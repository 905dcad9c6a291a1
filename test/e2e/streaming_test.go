package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSSE: each server-sent event must reach the client on its own. The
// backend sends event i only after the client acknowledged event i-1 (and
// 200 ms later), so a proxy that buffers makes the test time out instead of
// passing by luck.
func TestSSE(t *testing.T) {
	const events = 10
	acks := make([]chan struct{}, events)
	for i := range acks {
		acks[i] = make(chan struct{})
	}
	testDone := make(chan struct{})
	defer close(testDone)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fl.Flush()
		for i := range events {
			if i > 0 {
				select {
				case <-acks[i-1]:
				case <-r.Context().Done():
					return
				case <-testDone:
					return
				}
				// Pacing, not synchronisation: the ack above already
				// orders the test.
				select {
				case <-time.After(200 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "id: %d\nevent: tick\ndata: event %d\n\n", i, i)
			fl.Flush()
		}
	}))
	t.Cleanup(be.Close)
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /events }
    upstream: sse
upstreams:
  sse: { targets: [ "%s" ] }
`, strings.TrimPrefix(be.URL, "http://")))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst.URL("/events"), nil)
	req.Header.Set("Accept", "text/event-stream")
	c := newClient(t)
	c.Timeout = 0 // bounded by ctx instead
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var arrivals [events]time.Time
	for i := range events {
		var data string
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				break
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				data = d
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("event %d: %v (arrived so far: %d)", i, err, i)
		}
		if ctx.Err() != nil {
			t.Fatalf("event %d did not arrive in time: the proxy buffers the stream", i)
		}
		if want := fmt.Sprintf("event %d", i); data != want {
			t.Fatalf("event %d data = %q, want %q", i, data, want)
		}
		arrivals[i] = time.Now()
		close(acks[i])
	}
	for i := 1; i < events; i++ {
		if gap := arrivals[i].Sub(arrivals[i-1]); gap < 100*time.Millisecond {
			t.Errorf("events %d and %d arrived %v apart, want >= 100ms", i-1, i, gap)
		}
	}
}

// TestWebSocketAcrossReload: an upgraded connection is a bidirectional copy
// that survives reloads (SIGHUP and a file edit of an unrelated route), and
// its access-log line, written when it closes, counts what crossed it.
func TestWebSocketAcrossReload(t *testing.T) {
	var accepted atomic.Int32
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		accepted.Add(1)
		defer conn.CloseNow()
		ctx := r.Context()
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if err := conn.Write(ctx, typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(be.Close)
	cfg := func(body string) string {
		return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: true, output: stdout } }
routes:
  - name: ws
    match: { path: /ws/* }
    upstream: ws
  - name: other
    match: { path: /other }
    respond: { body: %s }
upstreams:
  ws: { targets: [ "%s" ] }
`, body, strings.TrimPrefix(be.URL, "http://"))
	}
	inst := start(t, cfg("before"))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws://"+inst.Addr+"/ws/echo", &websocket.DialOptions{
		HTTPClient: newClient(t),
	})
	if err != nil {
		t.Fatalf("dial through gatehouse: %v", err)
	}
	defer conn.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	echo := func(step string) {
		t.Helper()
		msg := "hello " + step
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("%s: write: %v", step, err)
		}
		_, got, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("%s: read: %v", step, err)
		}
		if string(got) != "echo: "+msg {
			t.Fatalf("%s: got %q", step, got)
		}
	}
	echo("before reload")

	if e := inst.ReloadSIGHUP(); e.str("msg") != "config reloaded" {
		t.Fatalf("SIGHUP reload: %v", e)
	}
	echo("after SIGHUP")

	if e := inst.Rewrite(cfg("after")); e.str("msg") != "config reloaded" {
		t.Fatalf("file reload: %v", e)
	}
	c := newClient(t)
	if _, body, _ := get(t, c, inst.URL("/other"), ""); body != "after" {
		t.Errorf("after the file edit /other = %q, want after", body)
	}
	echo("after file edit")

	if n := accepted.Load(); n != 1 {
		t.Errorf("backend accepted %d WebSocket connections, want 1 (the same one throughout)", n)
	}
	if err := conn.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Logf("close: %v", err)
	}
	// Three messages each way ("hello ..." out, "echo: hello ..." back),
	// masked frames from the client, plus the close frames.
	e := inst.AccessLine(resp.Header.Get("X-Request-Id"))
	in, out := e.num("bytes_in"), e.num("bytes_out")
	if e.num("status") != 101 || in < float64(3*len("hello before reload")) || out < float64(3*len("echo: hello before reload")) {
		t.Errorf("access log of the WebSocket: status %v bytes_in %v bytes_out %v", e.num("status"), in, out)
	}
}

// An upgraded connection keeps TCP half-close: when the backend finishes
// its direction, the client's side is half-closed and what the client
// still sends reaches the backend (the tunnel is not torn down at once).
func TestUpgradeHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	late := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			late <- "bad request: " + err.Error()
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
		_ = c.(*net.TCPConn).CloseWrite() // the backend is done sending
		b, _ := io.ReadAll(br)
		late <- string(b)
	}()
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - upstream: be
upstreams:
  be: { targets: [ %q ] }
`, ln.Addr().String()))
	c, err := net.Dial("tcp", inst.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(clientTimeout))
	_, _ = io.WriteString(c, "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "hello" {
		t.Fatalf("backend's bytes then EOF: %q, %v", rest, err)
	}
	_, _ = io.WriteString(c, "late data")
	_ = c.(*net.TCPConn).CloseWrite()
	select {
	case got := <-late:
		if got != "late data" {
			t.Fatalf("backend received %q after its half-close, want %q", got, "late data")
		}
	case <-time.After(clientTimeout):
		t.Fatal("the backend never saw the client's end")
	}
}
